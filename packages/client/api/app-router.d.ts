// The api's router as @propgate/client describes it: generated from @propgate/api by
// `bun run --cwd packages/client api-report`; do not edit. A change here is a change of the
// client's types: bump the version in package.json and add its CHANGELOG entry first.
import type {
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPCSubscriptionProcedure,
} from "@trpc/server";

export type AppRouter = TRPCBuiltRouter<
  {
    ctx: object;
    meta: object;
    errorShape: {
      message: string;
      code: import("@trpc/server").TRPC_ERROR_CODE_NUMBER;
      data: {
        code:
          | "BAD_GATEWAY"
          | "BAD_REQUEST"
          | "CLIENT_CLOSED_REQUEST"
          | "CONFLICT"
          | "FORBIDDEN"
          | "GATEWAY_TIMEOUT"
          | "INTERNAL_SERVER_ERROR"
          | "METHOD_NOT_SUPPORTED"
          | "NOT_FOUND"
          | "NOT_IMPLEMENTED"
          | "PARSE_ERROR"
          | "PAYLOAD_TOO_LARGE"
          | "PAYMENT_REQUIRED"
          | "PRECONDITION_FAILED"
          | "PRECONDITION_REQUIRED"
          | "SERVICE_UNAVAILABLE"
          | "TIMEOUT"
          | "TOO_MANY_REQUESTS"
          | "UNAUTHORIZED"
          | "UNPROCESSABLE_CONTENT"
          | "UNSUPPORTED_MEDIA_TYPE";
        httpStatus: number;
        path: string | undefined;
        cause: {
          code:
            | "BLOCKED"
            | "CONSENT_REQUIRED"
            | "FORBIDDEN"
            | "FORBIDDEN_DEVICE"
            | "FORBIDDEN_SITE"
            | "INTERNAL"
            | "INVALID_INPUT"
            | "METHOD_NOT_ALLOWED"
            | "NOT_FOUND"
            | "PARTNER_PROTOCOL_ERROR"
            | "PARTNER_REJECTED"
            | "PARTNER_UNAVAILABLE"
            | "RATE_LIMITED"
            | "UNAUTHORIZED"
            | "UNAVAILABLE";
          retryAfterSeconds?: number;
        };
        requestId: string | null;
        issues?:
          | {
              path: string;
              message: string;
            }[]
          | undefined;
      };
    };
    transformer: false;
  },
  {
    devices: {
      list: TRPCQueryProcedure<{
        input: void;
        output: {
          id: string;
          kind: "camera" | "door" | "gate";
          name: string;
          siteId: string;
        }[];
        meta: object;
      }>;
    };
    intercom: {
      openDoor: TRPCMutationProcedure<{
        input: {
          deviceId: string;
          idempotencyKey?: string | undefined;
        };
        output: {
          status: "opened";
          eventId: string;
          at: string;
        };
        meta: object;
      }>;
    };
    barrier: {
      open: TRPCMutationProcedure<{
        input: {
          deviceId: string;
          idempotencyKey?: string | undefined;
        };
        output: {
          status: "opened";
          eventId: string;
          at: string;
        };
        meta: object;
      }>;
    };
    consent: {
      list: TRPCQueryProcedure<{
        input: void;
        output: {
          purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
          state: "granted" | "none" | "revoked";
          currentNoticeVersion: number;
          grantedNoticeVersion: number | null;
          updatedAt: string | null;
        }[];
        meta: object;
      }>;
      grant: TRPCMutationProcedure<{
        input: {
          purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
          noticeVersion: number;
        };
        output: {
          consents: {
            purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
            state: "granted" | "none" | "revoked";
            currentNoticeVersion: number;
            grantedNoticeVersion: number | null;
            updatedAt: string | null;
          }[];
          receipt: {
            jws: string | null;
            payload: {
              version: "propgate-consent-receipt/1";
              receiptId: string;
              iat: number;
              time: string;
              controller: {
                name: "PropDevelopment";
                service: "Propgate";
              };
              subject: string;
              purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
              noticeVersion: number | null;
              noticeSha256: string | null;
              method: string;
              channel: string;
              state: "granted" | "revoked";
            };
          } | null;
        };
        meta: object;
      }>;
      revoke: TRPCMutationProcedure<{
        input: {
          purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
        };
        output: {
          consents: {
            purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
            state: "granted" | "none" | "revoked";
            currentNoticeVersion: number;
            grantedNoticeVersion: number | null;
            updatedAt: string | null;
          }[];
          receipt: {
            jws: string | null;
            payload: {
              version: "propgate-consent-receipt/1";
              receiptId: string;
              iat: number;
              time: string;
              controller: {
                name: "PropDevelopment";
                service: "Propgate";
              };
              subject: string;
              purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
              noticeVersion: number | null;
              noticeSha256: string | null;
              method: string;
              channel: string;
              state: "granted" | "revoked";
            };
          } | null;
        };
        meta: object;
      }>;
      receipts: TRPCQueryProcedure<{
        input:
          | void
          | {
              purpose?:
                | "barrier"
                | "faces"
                | "guests"
                | "intercom"
                | "journal"
                | "plates"
                | "video"
                | undefined;
              cursor?: string | undefined;
            }
          | undefined;
        output: {
          receipts: {
            jws: string | null;
            payload: {
              version: "propgate-consent-receipt/1";
              receiptId: string;
              iat: number;
              time: string;
              controller: {
                name: "PropDevelopment";
                service: "Propgate";
              };
              subject: string;
              purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
              noticeVersion: number | null;
              noticeSha256: string | null;
              method: string;
              channel: string;
              state: "granted" | "revoked";
            };
          }[];
          nextCursor: string | null;
        };
        meta: object;
      }>;
    };
    video: {
      createSession: TRPCMutationProcedure<{
        input: {
          cameraId: string;
          offerSdp: string;
        };
        output: {
          sessionId: string;
          answerSdp: string;
          iceServers: {
            urls: string[];
            username?: string | undefined;
            credential?: string | undefined;
          }[];
          expiresAt: string;
        };
        meta: object;
      }>;
      endSession: TRPCMutationProcedure<{
        input: {
          sessionId: string;
        };
        output: {
          ended: boolean;
        };
        meta: object;
      }>;
      listSessions: TRPCQueryProcedure<{
        input: void;
        output: {
          sessionId: string;
          cameraId: string;
          expiresAt: string;
        }[];
        meta: object;
      }>;
    };
    plates: {
      list: TRPCQueryProcedure<{
        input: {
          siteId: string;
        };
        output: {
          id: string;
          plate: string;
          validUntil: string | null;
          createdAt: string;
        }[];
        meta: object;
      }>;
      add: TRPCMutationProcedure<{
        input: {
          siteId: string;
          plate: string;
          validUntil?: string | undefined;
        };
        output: {
          id: string;
          plate: string;
          validUntil: string | null;
          createdAt: string;
        };
        meta: object;
      }>;
      remove: TRPCMutationProcedure<{
        input: {
          siteId: string;
          plateId: string;
        };
        output: {
          removed: true;
        };
        meta: object;
      }>;
    };
    faces: {
      list: TRPCQueryProcedure<{
        input: void;
        output: {
          faceId: string;
          createdAt: string;
        }[];
        meta: object;
      }>;
      enroll: TRPCMutationProcedure<{
        input: {
          image: string;
        };
        output: {
          faceId: string;
          createdAt: string;
        };
        meta: object;
      }>;
      remove: TRPCMutationProcedure<{
        input: {
          faceId: string;
        };
        output: {
          removed: true;
        };
        meta: object;
      }>;
    };
    keys: {
      create: TRPCMutationProcedure<{
        input: {
          deviceIds: string[];
          validFrom?: string | undefined;
          validUntil: string;
          maxUses?: number | undefined;
          label?: string | undefined;
          idempotencyKey?: string | undefined;
        };
        output: {
          keyId: string;
          siteId: string;
          deviceIds: string[];
          validFrom: string;
          validUntil: string;
          maxUses: number | null;
          label: string | null;
          createdAt: string;
          code: string;
          qr: string | null;
        };
        meta: object;
      }>;
      list: TRPCQueryProcedure<{
        input: void;
        output: {
          keyId: string;
          siteId: string;
          deviceIds: string[];
          validFrom: string;
          validUntil: string;
          maxUses: number | null;
          label: string | null;
          createdAt: string;
        }[];
        meta: object;
      }>;
      revoke: TRPCMutationProcedure<{
        input: {
          keyId: string;
        };
        output: {
          revoked: true;
        };
        meta: object;
      }>;
    };
    events: {
      list: TRPCQueryProcedure<{
        input:
          | void
          | {
              since?: string | undefined;
              deviceId?: string | undefined;
              cursor?: string | undefined;
            }
          | undefined;
        output: {
          journal: "granted" | "not_granted";
          entries: {
            id: string;
            kind:
              | "access.denied"
              | "access.granted"
              | "call.ended"
              | "call.incoming"
              | "device.offline"
              | "device.online"
              | "door.opened";
            deviceId: string | null;
            cameraId: string | null;
            unitId: string | null;
            method: "app" | "call" | "code" | "face" | "key" | "plate" | null;
            outcome: "answered" | "missed" | null;
            durationSeconds: number | null;
            occurredAt: string;
          }[];
          nextCursor: string | null;
        };
        meta: object;
      }>;
      onEvent: TRPCSubscriptionProcedure<{
        input: {
          lastEventId?: string | undefined;
        };
        output: AsyncIterable<{
          id: string;
          data: {
            id: string;
            kind:
              | "access.denied"
              | "access.granted"
              | "call.ended"
              | "call.incoming"
              | "device.offline"
              | "device.online"
              | "door.opened";
            deviceId: string | null;
            cameraId: string | null;
            unitId: string | null;
            method: "app" | "call" | "code" | "face" | "key" | "plate" | null;
            outcome: "answered" | "missed" | null;
            durationSeconds: number | null;
            occurredAt: string;
            seq: number;
          };
        }>;
        meta: object;
      }>;
    };
    privacy: {
      report: TRPCMutationProcedure<{
        input: void;
        output: {
          document: string;
          jws: string | null;
        };
        meta: object;
      }>;
    };
    admin: {
      me: TRPCQueryProcedure<{
        input: void;
        output: {
          userId: string;
          role: "operator" | "viewer";
        };
        meta: object;
      }>;
      residents: {
        get: TRPCQueryProcedure<{
          input: {
            userId: string;
          };
          output: {
            userId: string;
            seen: boolean;
            consents: {
              purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
              state: "granted" | "revoked" | "none";
              currentNoticeVersion: number;
              grantedNoticeVersion: number | null;
              updatedAt: string | null;
              history: {
                id: string;
                purpose:
                  | "barrier"
                  | "faces"
                  | "guests"
                  | "intercom"
                  | "journal"
                  | "plates"
                  | "video";
                action: "grant" | "revoke";
                noticeVersion: number | null;
                channel: "admin" | "app" | "web";
                method: string;
                actor: string;
                reason: string | null;
                at: string;
              }[];
            }[];
            erasures: {
              id: string;
              userId: string;
              partner: "barrier" | "intercom";
              categories: ("faces" | "plates")[];
              reason: "admin_request" | "consent_revoked";
              requestedBy: string;
              requestedAt: string;
              status: "accepted" | "done" | "pending";
              attempts: number;
              nextAttemptAt: string;
              lastError: string | null;
              completedAt: string | null;
              partnerResponse: {
                faces?: number | undefined;
                plates?: number | undefined;
              } | null;
              overdueSince: string | null;
            }[];
            videoSessions: {
              id: string;
              userId: string;
              cameraId: string;
              siteId: string | null;
              partner: string;
              partnerSessionId: string | null;
              state: "ended" | "ending" | "live" | "pending";
              createdAt: string;
              expiresAt: string;
              endedAt: string | null;
              endReason:
                | (
                    | "admin"
                    | "camera_removed"
                    | "consent_revoked"
                    | "expired"
                    | "failed"
                    | "resident"
                  )
                | null;
              endRequestedAt: string | null;
              endAttempts: number;
              endLastError: string | null;
            }[];
          };
          meta: object;
        }>;
        find: TRPCQueryProcedure<{
          input: {
            prefix?: string | undefined;
            limit?: number | undefined;
          };
          output: {
            residents: {
              userId: string;
              lastSeenAt: string | null;
            }[];
          };
          meta: object;
        }>;
      };
      privacy: {
        report: TRPCMutationProcedure<{
          input: {
            reason: string;
            userId: string;
          };
          output: {
            document: string;
            jws: string | null;
          };
          meta: object;
        }>;
      };
      journal: {
        list: TRPCQueryProcedure<{
          input: {
            userId: string;
            cursor?: string | undefined;
            deviceId?: string | undefined;
            since?: string | undefined;
            limit?: number | undefined;
          };
          output: {
            userId: string;
            consent: {
              purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
              state: "granted" | "revoked" | "none";
              currentNoticeVersion: number;
              grantedNoticeVersion: number | null;
              updatedAt: string | null;
            };
            entries: {
              id: string;
              kind:
                | "access.denied"
                | "access.granted"
                | "call.ended"
                | "call.incoming"
                | "device.offline"
                | "device.online"
                | "door.opened";
              deviceId: string | null;
              cameraId: string | null;
              unitId: string | null;
              method: ("app" | "call" | "code" | "face" | "key" | "plate") | null;
              outcome: ("answered" | "missed") | null;
              durationSeconds: number | null;
              occurredAt: string;
              recordedAt: string;
              sourceEventId: string;
            }[];
            nextCursor: string | null;
          };
          meta: object;
        }>;
      };
      partners: {
        health: TRPCQueryProcedure<{
          input:
            | void
            | {
                transitions?: number | undefined;
              }
            | undefined;
          output: {
            checks: {
              partner: string;
              check: string;
              state: "failing" | "firing" | "ok";
              consecutiveFailures: number;
              lastError: string | null;
              since: string;
            }[];
            transitions: {
              partner: string;
              check: string;
              from: string;
              to: string;
              at: string;
              error: string | null;
            }[];
          };
          meta: object;
        }>;
      };
      anomalies: {
        list: TRPCQueryProcedure<{
          input:
            | void
            | {
                kind?:
                  | "consent_probing"
                  | "credential_guessing"
                  | "enumeration"
                  | "mass_access_checks"
                  | "mass_key_creation"
                  | "outside_vpn"
                  | "partner_credential_guessing"
                  | "unusual_opening"
                  | undefined;
                subjectType?: "ip" | "partner_client" | "resident" | "resident_keys" | undefined;
                subjectId?: string | undefined;
                since?: string | undefined;
                limit?: number | undefined;
              }
            | undefined;
          output: {
            kind:
              | "consent_probing"
              | "credential_guessing"
              | "enumeration"
              | "mass_access_checks"
              | "mass_key_creation"
              | "outside_vpn"
              | "partner_credential_guessing"
              | "unusual_opening";
            subjectType: "ip" | "partner_client" | "resident" | "resident_keys";
            subjectId: string;
            windowSeconds: number;
            count: number;
            threshold: number;
            id: string;
            windowStart: string;
            firstSeen: string;
            lastSeen: string;
            blockId: string | null;
          }[];
          meta: object;
        }>;
      };
      blocks: {
        list: TRPCQueryProcedure<{
          input:
            | void
            | {
                kind?:
                  | "consent_probing"
                  | "credential_guessing"
                  | "enumeration"
                  | "mass_access_checks"
                  | "mass_key_creation"
                  | "outside_vpn"
                  | "partner_credential_guessing"
                  | "unusual_opening"
                  | undefined;
                subjectType?: "ip" | "partner_client" | "resident" | "resident_keys" | undefined;
                subjectId?: string | undefined;
                since?: string | undefined;
                limit?: number | undefined;
                activeOnly?: boolean | undefined;
              }
            | undefined;
          output: {
            id: string;
            subjectType: "ip" | "partner_client" | "resident" | "resident_keys";
            subjectId: string;
            kind:
              | "consent_probing"
              | "credential_guessing"
              | "enumeration"
              | "mass_access_checks"
              | "mass_key_creation"
              | "outside_vpn"
              | "partner_credential_guessing"
              | "unusual_opening";
            anomalyId: string | null;
            offence: number;
            createdAt: string;
            expiresAt: string;
            liftedAt: string | null;
            liftedBy: string | null;
            liftReason: string | null;
          }[];
          meta: object;
        }>;
        lift: TRPCMutationProcedure<{
          input: {
            reason: string;
            blockId: string;
          };
          output: {
            id: string;
            subjectType: "ip" | "partner_client" | "resident" | "resident_keys";
            subjectId: string;
            kind:
              | "consent_probing"
              | "credential_guessing"
              | "enumeration"
              | "mass_access_checks"
              | "mass_key_creation"
              | "outside_vpn"
              | "partner_credential_guessing"
              | "unusual_opening";
            anomalyId: string | null;
            offence: number;
            createdAt: string;
            expiresAt: string;
            liftedAt: string | null;
            liftedBy: string | null;
            liftReason: string | null;
          };
          meta: object;
        }>;
      };
      devices: {
        list: TRPCQueryProcedure<{
          input: void;
          output: {
            id: string;
            kind: "camera" | "door" | "gate";
            siteId: string;
            partner: "barrier" | "intercom";
            partnerDeviceId: string;
            name: string;
            createdAt: string;
            updatedAt: string;
          }[];
          meta: object;
        }>;
        upsert: TRPCMutationProcedure<{
          input: {
            reason: string;
            devices: {
              id: string;
              kind: "camera" | "door" | "gate";
              siteId: string;
              partner: "barrier" | "intercom";
              partnerDeviceId: string;
              name: string;
            }[];
          };
          output: {
            upserted: number;
          };
          meta: object;
        }>;
      };
      consents: {
        list: TRPCQueryProcedure<{
          input: {
            userId: string;
          };
          output: {
            purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
            state: "granted" | "revoked" | "none";
            currentNoticeVersion: number;
            grantedNoticeVersion: number | null;
            updatedAt: string | null;
          }[];
          meta: object;
        }>;
        revoke: TRPCMutationProcedure<{
          input:
            | {
                reason: string;
                userId: string;
                purpose:
                  | "barrier"
                  | "faces"
                  | "guests"
                  | "intercom"
                  | "journal"
                  | "plates"
                  | "video";
              }
            | {
                reason: string;
                userId: string;
                all: true;
              };
          output: {
            purpose: "barrier" | "faces" | "guests" | "intercom" | "journal" | "plates" | "video";
            state: "granted" | "revoked" | "none";
            currentNoticeVersion: number;
            grantedNoticeVersion: number | null;
            updatedAt: string | null;
          }[];
          meta: object;
        }>;
      };
      erasures: {
        list: TRPCQueryProcedure<{
          input: {
            userId?: string | undefined;
            status?: "accepted" | "done" | "pending" | undefined;
            limit?: number | undefined;
          };
          output: {
            id: string;
            userId: string;
            partner: "barrier" | "intercom";
            categories: ("faces" | "plates")[];
            reason: "admin_request" | "consent_revoked";
            requestedBy: string;
            requestedAt: string;
            status: "accepted" | "done" | "pending";
            attempts: number;
            nextAttemptAt: string;
            lastError: string | null;
            completedAt: string | null;
            partnerResponse: {
              faces?: number | undefined;
              plates?: number | undefined;
            } | null;
            overdueSince: string | null;
          }[];
          meta: object;
        }>;
        retry: TRPCMutationProcedure<{
          input: {
            reason: string;
            erasureId: string;
          };
          output: {
            id: string;
            userId: string;
            partner: "barrier" | "intercom";
            categories: ("faces" | "plates")[];
            reason: "admin_request" | "consent_revoked";
            requestedBy: string;
            requestedAt: string;
            status: "accepted" | "done" | "pending";
            attempts: number;
            nextAttemptAt: string;
            lastError: string | null;
            completedAt: string | null;
            partnerResponse: {
              faces?: number | undefined;
              plates?: number | undefined;
            } | null;
            overdueSince: string | null;
          };
          meta: object;
        }>;
        records: TRPCQueryProcedure<{
          input: {
            from?: string | undefined;
            to?: string | undefined;
            format: "csv" | "json";
          };
          output:
            | {
                format: "json";
                records: {
                  id: string;
                  erasureId: string;
                  userId: string;
                  partner: "barrier" | "intercom";
                  categories: ("faces" | "plates")[];
                  confirmedBy: "200 on DELETE" | "204 on DELETE" | "status done on poll";
                  destroyedAt: string;
                  requestedAt: string;
                  recordedAt: string;
                  erased: {
                    faces?: number | undefined;
                    plates?: number | undefined;
                  } | null;
                  keepUntil: string;
                }[];
              }
            | {
                format: "csv";
                csv: string;
                rows: number;
              };
          meta: object;
        }>;
      };
      webhookOutbox: {
        list: TRPCQueryProcedure<{
          input:
            | void
            | {
                status?: "delivered" | "pending" | undefined;
                userId?: string | undefined;
                before?: number | undefined;
                limit?: number | undefined;
              }
            | undefined;
          output: {
            configured: boolean;
            stats: {
              pending: number;
              delivered: number;
              oldestPendingSeconds: number;
              overdue: number;
            };
            rows: {
              seq: number;
              id: string;
              userId: string;
              eventType:
                | "access.denied"
                | "access.granted"
                | "call.ended"
                | "call.incoming"
                | "device.offline"
                | "device.online"
                | "door.opened";
              status: "delivered" | "pending";
              attempts: number;
              lastError: string | null;
              nextAttemptAt: string;
              createdAt: string;
              deliveredAt: string | null;
            }[];
            nextBefore: number | null;
          };
          meta: object;
        }>;
      };
      videoSessions: {
        list: TRPCQueryProcedure<{
          input: {
            userId?: string | undefined;
            state?: "ended" | "ending" | "live" | undefined;
            limit?: number | undefined;
          };
          output: {
            id: string;
            userId: string;
            cameraId: string;
            siteId: string | null;
            partner: string;
            partnerSessionId: string | null;
            state: "ended" | "ending" | "live" | "pending";
            createdAt: string;
            expiresAt: string;
            endedAt: string | null;
            endReason:
              | ("admin" | "camera_removed" | "consent_revoked" | "expired" | "failed" | "resident")
              | null;
            endRequestedAt: string | null;
            endAttempts: number;
            endLastError: string | null;
          }[];
          meta: object;
        }>;
        end: TRPCMutationProcedure<{
          input: {
            reason: string;
            sessionId: string;
          };
          output: {
            id: string;
            userId: string;
            cameraId: string;
            siteId: string | null;
            partner: string;
            partnerSessionId: string | null;
            state: "ended" | "ending" | "live" | "pending";
            createdAt: string;
            expiresAt: string;
            endedAt: string | null;
            endReason:
              | ("admin" | "camera_removed" | "consent_revoked" | "expired" | "failed" | "resident")
              | null;
            endRequestedAt: string | null;
            endAttempts: number;
            endLastError: string | null;
          };
          meta: object;
        }>;
      };
      keys: {
        list: TRPCQueryProcedure<{
          input: {
            userId: string;
          };
          output: {
            id: string;
            userId: string;
            partner: string;
            siteId: string;
            deviceIds: string[];
            validFrom: string;
            validUntil: string;
            maxUses: number | null;
            label: string | null;
            state: "active" | "ended" | "ending";
            endReason:
              | (
                  | "admin"
                  | "blocked"
                  | "consent_revoked"
                  | "erased"
                  | "expired"
                  | "over_limit"
                  | "resident"
                  | "site_removed"
                )
              | null;
            createdAt: string;
            endRequestedAt: string | null;
            endedAt: string | null;
            endAttempts: number;
            endLastError: string | null;
          }[];
          meta: object;
        }>;
        revoke: TRPCMutationProcedure<{
          input: {
            reason: string;
            keyId: string;
          };
          output: {
            id: string;
            userId: string;
            partner: string;
            siteId: string;
            deviceIds: string[];
            validFrom: string;
            validUntil: string;
            maxUses: number | null;
            label: string | null;
            state: "active" | "ended" | "ending";
            endReason:
              | (
                  | "admin"
                  | "blocked"
                  | "consent_revoked"
                  | "erased"
                  | "expired"
                  | "over_limit"
                  | "resident"
                  | "site_removed"
                )
              | null;
            createdAt: string;
            endRequestedAt: string | null;
            endedAt: string | null;
            endAttempts: number;
            endLastError: string | null;
          };
          meta: object;
        }>;
      };
      audit: {
        list: TRPCQueryProcedure<{
          input: {
            userId?: string | undefined;
            target?: string | undefined;
            operation?:
              | "access.denied"
              | "access.granted"
              | "access_check.face"
              | "access_check.key"
              | "access_check.plate"
              | "barrier.open"
              | "call.ended"
              | "call.incoming"
              | "device.offline"
              | "device.online"
              | "door.opened"
              | "faces.enroll"
              | "faces.list"
              | "faces.remove"
              | "health"
              | "intercom.open"
              | "keys.create"
              | "keys.delete"
              | "keys.list"
              | "plates.add"
              | "plates.list"
              | "plates.remove"
              | "subjects.erase"
              | "subjects.erasure_status"
              | "video.create_session"
              | "video.end_session"
              | undefined;
            kind?:
              | "access.denied"
              | "admin.audit.export"
              | "admin.blocks.lift"
              | "admin.devices.upsert"
              | "admin.erasures.records"
              | "admin.erasures.retry"
              | "admin.journal.read"
              | "admin.keys.revoke"
              | "admin.privacy.report"
              | "admin.units.upsert"
              | "admin.video_sessions.end"
              | "block.placed"
              | "consent.grant"
              | "consent.revoke"
              | "erasure.completed"
              | "erasure.overdue"
              | "erasure.requested"
              | "journal.erased"
              | "partner.access_check"
              | "partner.event"
              | "partner.request"
              | "partner.response"
              | "privacy.report"
              | "retention.run"
              | undefined;
            result?:
              | "accepted"
              | "allow"
              | "denied"
              | "deny"
              | "error"
              | "ok"
              | "overdue"
              | "pending"
              | "success"
              | "truncated"
              | "unchanged"
              | "unknown_device"
              | undefined;
            partner?: "barrier" | "intercom" | undefined;
            from?: string | undefined;
            to?: string | undefined;
            limit?: number | undefined;
            cursor?: string | undefined;
          };
          output: {
            rows: {
              seq: number;
              chainId: string;
              chainSeq: number;
              id: string;
              at: string;
              kind: string;
              sourceApp: string;
              instanceId: string;
              clientIp: string | null;
              requestId: string | null;
              userId: string | null;
              actor: string | null;
              operation: string | null;
              partner: string | null;
              purpose: string | null;
              target: string | null;
              attempt: number | null;
              result: string;
              errorCode: string | null;
              httpStatus: number | null;
              latencyMs: number | null;
              callId: string | null;
              reason: string | null;
              traceId: string | null;
              prevHash: string;
              hash: string;
              redactionId: string | null;
              redactedDigest: string | null;
            }[];
            nextCursor: string | null;
            prevCursor: string | null;
          };
          meta: object;
        }>;
        export: TRPCQueryProcedure<{
          input:
            | void
            | {
                userId?: string | undefined;
                target?: string | undefined;
                operation?:
                  | "access.denied"
                  | "access.granted"
                  | "access_check.face"
                  | "access_check.key"
                  | "access_check.plate"
                  | "barrier.open"
                  | "call.ended"
                  | "call.incoming"
                  | "device.offline"
                  | "device.online"
                  | "door.opened"
                  | "faces.enroll"
                  | "faces.list"
                  | "faces.remove"
                  | "health"
                  | "intercom.open"
                  | "keys.create"
                  | "keys.delete"
                  | "keys.list"
                  | "plates.add"
                  | "plates.list"
                  | "plates.remove"
                  | "subjects.erase"
                  | "subjects.erasure_status"
                  | "video.create_session"
                  | "video.end_session"
                  | undefined;
                kind?:
                  | "access.denied"
                  | "admin.audit.export"
                  | "admin.blocks.lift"
                  | "admin.devices.upsert"
                  | "admin.erasures.records"
                  | "admin.erasures.retry"
                  | "admin.journal.read"
                  | "admin.keys.revoke"
                  | "admin.privacy.report"
                  | "admin.units.upsert"
                  | "admin.video_sessions.end"
                  | "block.placed"
                  | "consent.grant"
                  | "consent.revoke"
                  | "erasure.completed"
                  | "erasure.overdue"
                  | "erasure.requested"
                  | "journal.erased"
                  | "partner.access_check"
                  | "partner.event"
                  | "partner.request"
                  | "partner.response"
                  | "privacy.report"
                  | "retention.run"
                  | undefined;
                result?:
                  | "accepted"
                  | "allow"
                  | "denied"
                  | "deny"
                  | "error"
                  | "ok"
                  | "overdue"
                  | "pending"
                  | "success"
                  | "truncated"
                  | "unchanged"
                  | "unknown_device"
                  | undefined;
                partner?: "barrier" | "intercom" | undefined;
                from?: string | undefined;
                to?: string | undefined;
              }
            | undefined;
          output: {
            csv: string;
            rows: number;
            truncated: boolean;
          };
          meta: object;
        }>;
        verify: TRPCQueryProcedure<{
          input: void;
          output:
            | {
                ok: true;
                count: number;
                checkpoints?: number;
                redacted?: number;
                notes?: string[];
              }
            | {
                ok: false;
                firstBadSeq: number | null;
                reason: string;
              };
          meta: object;
        }>;
      };
      vpn: {
        events: TRPCQueryProcedure<{
          input:
            | void
            | {
                peerFingerprint?: string | undefined;
                limit?: number | undefined;
              }
            | undefined;
          output: {
            seq: number;
            at: string;
            iface: string;
            peerFingerprint: string;
            endpointIp: string | null;
            kind: "connected" | "disconnected";
            rxBytes: number;
            txBytes: number;
          }[];
          meta: object;
        }>;
      };
    };
  }
>;
