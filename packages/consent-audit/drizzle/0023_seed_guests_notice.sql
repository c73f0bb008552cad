-- Version 1 of the consent notice for `guests` (guest keys issued at the intercom partner).
-- Publish a new version with a new migration (never edit a published text).
INSERT INTO "notices" ("purpose", "version", "text", "text_sha256", "published_at")
SELECT v.purpose, 1, v.text, encode(sha256(convert_to(v.text, 'UTF8')), 'hex'), now()
FROM (VALUES
  ('guests',
   'Согласие на обработку персональных данных (152-ФЗ): по вашей просьбе PropDevelopment передаёт оператору домофона ваш псевдоним, выбранные двери и срок действия, чтобы выпустить гостевой ключ для вашего гостя или курьера. Код ключа показывается вам один раз и у нас не хранится; мы храним только двери, срок, вашу подпись к ключу (до 40 символов) и его состояние. Ключи действуют не дольше установленного срока (по умолчанию 72 часа). При отзыве согласия все ваши действующие ключи отменяются у оператора домофона.' || E'\n\n' ||
   'Consent to personal data processing: at your request, PropDevelopment sends the intercom operator your pseudonym, the doors you chose and the validity, so that it issues a guest key for your visitor or courier. The key''s code is shown to you once and is not kept by us; we keep only the doors, the validity, your label for the key (up to 40 characters) and its state. Keys are valid for no longer than the set maximum (72 hours by default). When you revoke consent, all your active keys are ended at the intercom operator.')
) AS v(purpose, text);
