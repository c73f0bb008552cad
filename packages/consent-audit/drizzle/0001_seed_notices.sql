-- Version 1 of the consent notice for each purpose. A grant must name the current version;
-- publish a new version with a new migration (never edit a published text).
INSERT INTO "notices" ("purpose", "version", "text", "text_sha256", "published_at")
SELECT v.purpose, 1, v.text, encode(sha256(convert_to(v.text, 'UTF8')), 'hex'), now()
FROM (VALUES
  ('intercom',
   'Согласие на обработку персональных данных (152-ФЗ): чтобы открывать двери по вашей команде, PropDevelopment передаёт партнёру «Умный домофон» псевдонимный идентификатор (не ваше имя, телефон или адрес) и идентификатор двери. Согласие можно отозвать в любой момент в приложении.' || E'\n\n' ||
   'Consent to personal data processing: to open doors when you ask, PropDevelopment sends the "smart intercom" partner a pseudonymous identifier (not your name, phone or address) and the door id. You can revoke this consent at any time in the app.'),
  ('barrier',
   'Согласие на обработку персональных данных (152-ФЗ): чтобы открывать шлагбаум по вашей команде, PropDevelopment передаёт партнёру «Умный шлагбаум» псевдонимный идентификатор и идентификатор шлагбаума. Согласие можно отозвать в любой момент в приложении.' || E'\n\n' ||
   'Consent to personal data processing: to open the barrier when you ask, PropDevelopment sends the "smart barrier" partner a pseudonymous identifier and the barrier id. You can revoke this consent at any time in the app.'),
  ('video',
   'Согласие на обработку персональных данных (152-ФЗ): чтобы показать видео с камеры, PropDevelopment передаёт партнёру, обслуживающему камеру («Умный домофон» или «Умный шлагбаум»), псевдонимный идентификатор, идентификатор камеры и параметры видеосоединения. Видео идёт от партнёра напрямую в приложение и не хранится в PropDevelopment. Согласие можно отозвать в любой момент.' || E'\n\n' ||
   'Consent to personal data processing: to show live camera video, PropDevelopment sends the partner operating the camera ("smart intercom" or "smart barrier") a pseudonymous identifier, the camera id and the video connection parameters. Video flows from the partner directly to the app and is not stored by PropDevelopment. You can revoke this consent at any time.'),
  ('faces',
   'Согласие на обработку биометрических персональных данных (152-ФЗ): для прохода по распознаванию лица PropDevelopment передаёт партнёру «Умный домофон» вашу фотографию и псевдонимный идентификатор. PropDevelopment не хранит фотографии и биометрические данные; их обрабатывает только партнёр. При отзыве согласия PropDevelopment просит партнёра удалить ваши данные.' || E'\n\n' ||
   'Consent to biometric personal data processing: for face-recognition entry, PropDevelopment sends the "smart intercom" partner your photo and a pseudonymous identifier. PropDevelopment stores no photos or biometrics; only the partner processes them. When you revoke consent, PropDevelopment asks the partner to erase your data.'),
  ('plates',
   'Согласие на обработку персональных данных (152-ФЗ): для въезда по распознаванию номера PropDevelopment передаёт партнёру «Умный шлагбаум» номера автомобилей (ваших и гостевых) и псевдонимный идентификатор. PropDevelopment не хранит номера автомобилей; их обрабатывает только партнёр. При отзыве согласия PropDevelopment просит партнёра удалить ваши данные.' || E'\n\n' ||
   'Consent to personal data processing: for number-plate entry, PropDevelopment sends the "smart barrier" partner car plate numbers (yours and your guests'') and a pseudonymous identifier. PropDevelopment stores no plate numbers; only the partner processes them. When you revoke consent, PropDevelopment asks the partner to erase your data.')
) AS v(purpose, text);
