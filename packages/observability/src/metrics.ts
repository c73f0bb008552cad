import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * One registry per app instance (not prom-client's global), so several instances can live in
 * one process — tests start two apis side by side.
 */
export function createMetrics(options: { app: string; defaultMetrics?: boolean }) {
  const registry = new Registry();
  registry.setDefaultLabels({ app: options.app });
  // The event-loop delay is sampled every 100 ms, not prom-client's 10: an idle api then wakes
  // 10 times a second for it instead of 100 (its main thread idled at 16 ms of CPU per second
  // with 10, 10 with 100), and a lag worth an alert is far longer than either.
  if (options.defaultMetrics)
    collectDefaultMetrics({
      register: registry,
      prefix: "propgate_process_",
      eventLoopMonitoringPrecision: 100,
    });
  // Read at scrape time from whoever owns the queue (the audit writer, set at startup).
  let auditPending: () => number = () => 0;
  let activeBlocks: () => Record<string, number> = () => ({});

  return {
    registry,
    httpRequests: new Counter({
      name: "propgate_http_requests_total",
      help: "HTTP requests served, by route and status class",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "propgate_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    partnerRequests: new Counter({
      name: "propgate_partner_requests_total",
      help: "Requests sent to partners, by outcome",
      labelNames: ["partner", "operation", "outcome"] as const,
      registers: [registry],
    }),
    partnerDuration: new Histogram({
      name: "propgate_partner_request_duration_seconds",
      help: "Duration of one partner request attempt",
      labelNames: ["partner", "operation"] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    partnerProtocolErrors: new Counter({
      name: "propgate_partner_protocol_errors_total",
      help: "Partner answers refused as breaking the contract, by reason (schema, location, sdp, …)",
      labelNames: ["partner", "operation", "reason"] as const,
      registers: [registry],
    }),
    tokenRefresh: new Counter({
      name: "propgate_token_refresh_total",
      help: "OAuth token requests to partners, by outcome",
      labelNames: ["partner", "outcome"] as const,
      registers: [registry],
    }),
    circuitOpen: new Gauge({
      name: "propgate_partner_circuit_open",
      help: "1 while the circuit breaker of a partner is open",
      labelNames: ["partner"] as const,
      registers: [registry],
    }),
    erasures: new Counter({
      name: "propgate_erasures_total",
      help: "Erasure requests sent to partners and status polls, by outcome (done, accepted, poll_pending, retry)",
      labelNames: ["partner", "outcome"] as const,
      registers: [registry],
    }),
    videoSessionEnds: new Counter({
      name: "propgate_video_session_ends_total",
      help: "Video sessions ended at the partner by Propgate, by reason and outcome (ended, retry)",
      labelNames: ["partner", "reason", "outcome"] as const,
      registers: [registry],
    }),
    videoSessionsEnding: new Gauge({
      name: "propgate_video_sessions_ending",
      help: "Video sessions that must end and the partner has not confirmed yet",
      registers: [registry],
    }),
    guestKeyEnds: new Counter({
      name: "propgate_guest_key_ends_total",
      help: "Guest keys ended at the partner by the end queue, by reason and outcome (ended, retry)",
      labelNames: ["partner", "reason", "outcome"] as const,
      registers: [registry],
    }),
    guestKeysEnding: new Gauge({
      name: "propgate_guest_keys_ending",
      help: "Guest keys that must end and the partner has not confirmed the DELETE of yet",
      registers: [registry],
    }),
    erasuresPending: new Gauge({
      name: "propgate_erasures_pending",
      help: "Erasure requests not yet acknowledged by the partner",
      registers: [registry],
    }),
    erasuresOverdue: new Gauge({
      name: "propgate_erasures_overdue",
      help: "Erasure requests unacknowledged past ERASURE_OVERDUE_SECONDS or unconfirmed past ERASURE_DEADLINE_DAYS (alert when > 0)",
      registers: [registry],
    }),
    retentionLastRun: new Gauge({
      name: "propgate_retention_last_run_timestamp_seconds",
      help: "When `propgate retention run` last succeeded (its retention.run audit row), Unix seconds; 0 when never (alert when older than 2 days)",
      registers: [registry],
    }),
    eventsWebhookDeliveries: new Counter({
      name: "propgate_events_webhook_deliveries_total",
      help: "Webhook deliveries to tenant-core, by result (delivered, http_4xx, http_5xx, timeout, network, bad_payload)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    eventsWebhookPending: new Gauge({
      name: "propgate_events_webhook_pending",
      help: "Resident events queued for tenant-core's webhook and not yet delivered",
      registers: [registry],
    }),
    eventsWebhookOldestPending: new Gauge({
      name: "propgate_events_webhook_oldest_pending_seconds",
      help: "Age of the oldest undelivered webhook event (0 when none)",
      registers: [registry],
    }),
    eventsWebhookOverdue: new Gauge({
      name: "propgate_events_webhook_overdue",
      help: "Webhook events undelivered past EVENTS_WEBHOOK_OVERDUE_SECONDS (alert when > 0)",
      registers: [registry],
    }),
    consentRevocations: new Counter({
      name: "propgate_consent_revocations_total",
      help: "Consent revocations seen on the consent bus, by purpose",
      labelNames: ["purpose"] as const,
      registers: [registry],
    }),
    consentBusReconnects: new Counter({
      name: "propgate_consent_bus_reconnects_total",
      help: "Times the consent bus lost and re-established its LISTEN connection",
      registers: [registry],
    }),
    vpnPeerUp: new Gauge({
      name: "propgate_vpn_peer_up",
      help: "1 while a WireGuard peer's latest handshake is recent",
      labelNames: ["iface", "peer"] as const,
      registers: [registry],
    }),
    probeSuccess: new Gauge({
      name: "propgate_probe_success",
      help: "1 when the health probe's last check of a partner passed, else 0 (check: token, health, certificate)",
      labelNames: ["partner", "check"] as const,
      registers: [registry],
    }),
    probeDuration: new Gauge({
      name: "propgate_probe_duration_seconds",
      help: "How long the health probe's last check of a partner took",
      labelNames: ["partner", "check"] as const,
      registers: [registry],
    }),
    probeCertExpiry: new Gauge({
      name: "propgate_probe_cert_expiry_seconds",
      help: "Seconds until the TLS certificate a partner presents expires",
      labelNames: ["partner"] as const,
      registers: [registry],
    }),
    vpnHandshakeAge: new Gauge({
      name: "propgate_vpn_last_handshake_age_seconds",
      help: "Seconds since a WireGuard peer's latest handshake",
      labelNames: ["iface", "peer"] as const,
      registers: [registry],
    }),
    accessDenied: new Counter({
      name: "propgate_access_denied_total",
      help: "Resident requests refused before any partner call, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    partnerSurfaceRefused: new Counter({
      name: "propgate_partner_surface_refused_total",
      help: "Partner-surface requests refused before authentication, by reason (outside_allowlist, verifications_busy)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    partnerTokenVerifications: new Counter({
      name: "propgate_partner_token_verifications_total",
      help: "Partner client secrets checked at POST /oauth/token (one argon2id or bcrypt verification each), by result (valid, invalid)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    partnerTokenVerificationsInFlight: new Gauge({
      name: "propgate_partner_token_verifications_in_flight",
      help: "Partner client secrets being checked now (at most PARTNER_TOKEN_MAX_CONCURRENT_VERIFICATIONS per surface)",
      registers: [registry],
    }),
    partnerTokenVerificationsWaiting: new Gauge({
      name: "propgate_partner_token_verifications_waiting",
      help: "Token requests waiting for a free verification slot (at most PARTNER_TOKEN_VERIFICATION_QUEUE per surface)",
      registers: [registry],
    }),
    anomalies: new Counter({
      name: "propgate_anomalies_total",
      help: "Anomalies found by the watch rules, once per rule window and subject, by kind (e.g. enumeration, mass_access_checks)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    accessChecks: new Counter({
      name: "propgate_access_checks_total",
      help: "Access checks answered to partners, by partner and decision (allow, deny)",
      labelNames: ["partner", "decision"] as const,
      registers: [registry],
    }),
    partnerEvents: new Counter({
      name: "propgate_partner_events_total",
      help: "Device events reported by partners, by partner and type",
      labelNames: ["partner", "type"] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "propgate_rate_limited_total",
      help: "Requests refused by a rate limit, by limit (ip, resident, open, partner_client, partner_token_peer, partner_token_client, outbound, privacy_report)",
      labelNames: ["limit"] as const,
      registers: [registry],
    }),
    rateLimitRedisFallback: new Counter({
      name: "propgate_rate_limit_redis_fallback_total",
      help: "Rate-limit decisions taken by the local insurance limiter because Redis failed",
      labelNames: ["limit"] as const,
      registers: [registry],
    }),
    auditWriteFailures: new Counter({
      name: "propgate_audit_write_failures_total",
      help: "Audit batches that failed to commit (waiting callers got the error; answers' rows are retried)",
      registers: [registry],
    }),
    auditRowsLost: new Counter({
      name: "propgate_audit_rows_lost_total",
      help: "Audit rows of partner answers given up on after repeated failed batches (each is logged)",
      registers: [registry],
    }),
    auditRowsPending: new Gauge({
      name: "propgate_audit_rows_pending",
      help: "Audit rows queued in this process and not yet committed",
      registers: [registry],
      collect() {
        this.set(auditPending());
      },
    }),
    blocksPlaced: new Counter({
      name: "propgate_blocks_placed_total",
      help: "Subjects blocked after an anomaly, by subject type (resident, ip, partner_client, resident_keys) and anomaly kind",
      labelNames: ["subject_type", "kind"] as const,
      registers: [registry],
    }),
    blocksActive: new Gauge({
      name: "propgate_blocks_active",
      help: "Blocks in force now, by subject type (resident, ip, partner_client, resident_keys)",
      labelNames: ["subject_type"] as const,
      registers: [registry],
      collect() {
        for (const [subjectType, n] of Object.entries(activeBlocks()))
          this.set({ subject_type: subjectType }, n);
      },
    }),
    rateLimitBackendUp: new Gauge({
      name: "propgate_rate_limit_backend_up",
      help: "1 while the rate-limit store (memory, or Redis when configured) is usable, else 0",
      labelNames: ["backend"] as const,
      registers: [registry],
    }),
    /** Where `propgate_blocks_active` is read from. */
    observeActiveBlocks(read: () => Record<string, number>) {
      activeBlocks = read;
    },
    /** Where `propgate_audit_rows_pending` is read from. */
    observeAuditPending(read: () => number) {
      auditPending = read;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
