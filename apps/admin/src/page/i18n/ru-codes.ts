import { prefixed } from "./catalogue.ts";
import type { Explanations } from "./codes.ts";

/** Что значит каждый код, по-русски (группы `codes.ts`). */

const kind: Explanations<"kind"> = {
  "consent.grant": "житель дал согласие",
  "consent.revoke": "согласие отозвано",
  "partner.request": "запрос партнёру отправлен",
  "partner.response": "ответ партнёра",
  "access.denied": "отказано до обращения к партнёру",
  "admin.devices.upsert": "устройства добавлены или изменены администратором",
  "admin.units.upsert": "квартиры и жильцы обновлены администратором",
  "erasure.requested": "партнёру отправлен запрос на удаление",
  "erasure.completed": "партнёр подтвердил удаление",
  "partner.access_check": "партнёр спросил, можно ли пропустить",
  "partner.event": "партнёр сообщил о событии на устройстве",
  "block.placed": "блокировка после необычной активности",
  "admin.blocks.lift": "администратор снял блокировку",
  "admin.erasures.retry": "администратор повторил удаление",
  "admin.erasures.records": "администратор выгрузил акты уничтожения",
  "erasure.overdue": "удаление не подтверждено в срок",
  "admin.video_sessions.end": "администратор завершил видеосеанс",
  "admin.keys.revoke": "администратор отозвал гостевой ключ",
  "admin.audit.export": "администратор выгрузил журнал аудита",
  "admin.journal.read": "администратор открыл журнал жителя",
  "journal.erased": "журнал жителя удалён",
  "privacy.report": "житель получил отчёт о своих данных",
  "admin.privacy.report": "администратор подготовил отчёт о данных жителя",
  "retention.run": "устаревшие данные удалены по сроку хранения",
};

const operation: Explanations<"operation"> = {
  "intercom.open": "открыть дверь",
  "barrier.open": "открыть шлагбаум",
  "video.create_session": "начать видеотрансляцию",
  "video.end_session": "завершить видеотрансляцию",
  "plates.list": "список автономеров",
  "plates.add": "добавить автономер",
  "plates.remove": "удалить автономер",
  "faces.list": "список лиц",
  "faces.enroll": "добавить лицо",
  "faces.remove": "удалить лицо",
  "keys.create": "создать гостевой ключ",
  "keys.list": "список гостевых ключей",
  "keys.delete": "удалить гостевой ключ",
  "subjects.erase": "удалить данные жителя",
  "subjects.erasure_status": "узнать ход удаления",
  health: "проверка работоспособности",
  "access_check.key": "пропустить по ключу?",
  "access_check.face": "пропустить по лицу?",
  "access_check.plate": "пропустить по номеру?",
  "door.opened": "дверь открылась",
  "device.offline": "устройство не в сети",
  "device.online": "устройство снова в сети",
  "call.incoming": "звонок в квартиру",
  "call.ended": "звонок завершён",
  "access.granted": "проход разрешён",
  "access.denied": "в проходе отказано",
};

const result: Explanations<"result"> = {
  ok: "выполнено",
  pending: "отправлено, ждём ответа",
  success: "партнёр выполнил",
  accepted: "принято, завершится позже",
  unchanged: "менять нечего",
  truncated: "обрезано по пределу",
  allow: "пропустить",
  deny: "отказ Propgate",
  denied: "отказано",
  error: "ошибка",
  unknown_device: "неизвестное устройство",
  overdue: "срок истёк",
};

const cause: Explanations<"cause"> = {
  UNAUTHORIZED: "нет входа или вход истёк",
  FORBIDDEN: "нет прав",
  FORBIDDEN_DEVICE: "устройство не принадлежит жителю",
  FORBIDDEN_SITE: "объект не принадлежит жителю",
  CONSENT_REQUIRED: "нет согласия на эту цель",
  INVALID_INPUT: "запрос составлен неверно",
  RATE_LIMITED: "слишком много запросов, повторите позже",
  BLOCKED: "временно заблокировано после необычной активности",
  NOT_FOUND: "не найдено",
  METHOD_NOT_ALLOWED: "неверный вид запроса (GET или POST)",
  PARTNER_UNAVAILABLE: "партнёр не ответил",
  PARTNER_REJECTED: "партнёр отказал",
  PARTNER_PROTOCOL_ERROR: "партнёр прислал неверный ответ",
  UNAVAILABLE: "сервис временно недоступен",
  INTERNAL: "внутренняя ошибка",
};

const purpose: Explanations<"purpose"> = {
  intercom: "открытие дверей",
  barrier: "открытие шлагбаумов",
  video: "видеотрансляция",
  faces: "распознавание лиц",
  plates: "автономера",
  guests: "гостевые ключи",
  journal: "журнал событий",
};

const partner: Explanations<"partner"> = {
  intercom: "умный домофон",
  barrier: "умный шлагбаум",
};

const method: Explanations<"method"> = {
  in_app_checkbox: "отметка в приложении",
  in_app_toggle: "выключено в приложении",
  admin_action: "действие администратора",
};

const channel: Explanations<"channel"> = {
  app: "мобильное приложение",
  web: "веб-приложение",
  admin: "админка",
};

const anomaly: Explanations<"anomaly"> = {
  mass_access_checks: "партнёр проверяет очень многих",
  enumeration: "перебор устройств или объектов",
  unusual_opening: "необычно частые открытия",
  credential_guessing: "повторные неверные токены входа",
  partner_credential_guessing: "повторные неверные учётные данные партнёра",
  consent_probing: "повторные вызовы без согласия",
  outside_vpn: "вызовы партнёра не через VPN",
  mass_key_creation: "массовое создание гостевых ключей",
};

const subject: Explanations<"subject"> = {
  resident: "житель",
  ip: "сетевой адрес",
  partner_client: "клиент партнёра",
  resident_keys: "гостевые ключи жителя",
};

const device: Explanations<"device"> = {
  door: "дверь",
  gate: "шлагбаум",
  camera: "камера",
};

const entry: Explanations<"entry"> = {
  app: "из приложения",
  key: "по ключу",
  code: "по коду",
  face: "по лицу",
  plate: "по автономеру",
  call: "ответом на звонок",
};

const call: Explanations<"call"> = {
  answered: "отвечен",
  missed: "пропущен",
};

const erasureReason: Explanations<"erasureReason"> = {
  consent_revoked: "житель отозвал согласие",
  admin_request: "по запросу администратора",
};

export const ruCodes = {
  ...prefixed("kind", kind),
  ...prefixed("operation", operation),
  ...prefixed("result", result),
  ...prefixed("cause", cause),
  ...prefixed("purpose", purpose),
  ...prefixed("partner", partner),
  ...prefixed("method", method),
  ...prefixed("channel", channel),
  ...prefixed("anomaly", anomaly),
  ...prefixed("subject", subject),
  ...prefixed("device", device),
  ...prefixed("entry", entry),
  ...prefixed("call", call),
  ...prefixed("erasureReason", erasureReason),
};
