-- Version 1 of the consent notice for `journal` (Propgate's own processing, no partner).
-- Publish a new version with a new migration (never edit a published text).
INSERT INTO "notices" ("purpose", "version", "text", "text_sha256", "published_at")
SELECT v.purpose, 1, v.text, encode(sha256(convert_to(v.text, 'UTF8')), 'hex'), now()
FROM (VALUES
  ('journal',
   'Согласие на обработку персональных данных (152-ФЗ): PropDevelopment ведёт журнал событий у ваших дверей — звонки в квартиру, вызовы (отвеченные и пропущенные), проходы и въезды — и хранит его не дольше срока хранения журнала (по умолчанию 90 дней). Журнал видите только вы; уведомления о событиях приходят на ваш телефон через приложение жильца. В журнале нет фотографий, номеров автомобилей, имён и телефонов. При отзыве согласия журнал сразу удаляется.' || E'\n\n' ||
   'Consent to personal data processing: PropDevelopment keeps a journal of the events at your doors — rings at your flat, calls (answered and missed), entries by door and gate — for no longer than the journal retention period (90 days by default). Only you see it; notifications of these events reach your phone through the resident app. The journal holds no photos, plate numbers, names or phone numbers. When you revoke consent, the journal is erased at once.')
) AS v(purpose, text);
