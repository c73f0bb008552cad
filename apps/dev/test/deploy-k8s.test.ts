import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import type { ApiEnv } from "@propgate/server";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { Ingress, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import { prometheusRuleYaml } from "../../../scripts/prometheus-rule.ts";
import {
  checkProgramEnv,
  HEAP_HEADROOM_BYTES,
  looksSecret,
  parseEnvText,
  programOf,
  quantityBytes,
  removeTestMaterial,
} from "./deploy-env.ts";

/**
 * infra/k8s as Kubernetes would take it: every overlay rendered by `kubectl kustomize`, every
 * object checked against the API's schemas (kubernetes-models), then the kit's own rules —
 * probes, shutdown timing, security context, heap budget, secrets as files, network policy —
 * with each container's environment run through its program's own env loader.
 */
const ROOT = join(import.meta.dir, "../../..");
const K8S = join(ROOT, "infra/k8s");
const OVERLAYS = ["base", "production", "local"] as const;
type Overlay = (typeof OVERLAYS)[number];

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML, read field by field
type Manifest = any;

/** Why kubectl cannot render the overlays here, or null. Kustomize 5 syntax (`patches`, `labels`). */
function missingKubectl(): string | null {
  if (!Bun.which("kubectl")) return "kubectl is not installed";
  const run = Bun.spawnSync(["kubectl", "version", "--client", "-o", "json"], { stderr: "pipe" });
  if (run.exitCode !== 0) return `kubectl version failed: ${run.stderr.toString().trim()}`;
  const version = JSON.parse(run.stdout.toString()) as { kustomizeVersion?: string };
  const major = Number(/^v(\d+)/.exec(version.kustomizeVersion ?? "")?.[1] ?? 0);
  if (major < 5) return `kubectl's kustomize is ${version.kustomizeVersion ?? "absent"}; needs v5`;
  return null;
}
const missing = missingKubectl();
if (missing) {
  if (process.env.CI) throw new Error(`deploy-k8s: ${missing} (needed in CI)`);
  console.warn(`[skip] Kubernetes manifests: ${missing}`);
}

function render(overlay: Overlay): Manifest[] {
  const run = Bun.spawnSync(["kubectl", "kustomize", join(K8S, overlay)], { stderr: "pipe" });
  if (run.exitCode !== 0)
    throw new Error(`kubectl kustomize ${overlay}: ${run.stderr.toString().trim()}`);
  const warnings = run.stderr.toString().trim();
  if (warnings) throw new Error(`kubectl kustomize ${overlay} warned: ${warnings}`);
  const parsed = Bun.YAML.parse(run.stdout.toString()) as Manifest;
  return (Array.isArray(parsed) ? parsed : [parsed]).filter(Boolean);
}

/** The schema of each kind the kit uses; a kind without one fails the schema test. */
const MODELS: Record<string, new (data: Manifest) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/Namespace": Namespace,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "batch/v1/CronJob": CronJob,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "networking.k8s.io/v1/Ingress": Ingress,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

const rendered = {} as Record<Overlay, Manifest[]>;
beforeAll(() => {
  if (missing) return;
  for (const overlay of OVERLAYS) rendered[overlay] = render(overlay);
});
afterAll(removeTestMaterial);

const find = (objects: Manifest[], kind: string, name: string): Manifest => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};

/** A ConfigMap of a generator: kustomize appends a hash of its content to the name. */
const generated = (objects: Manifest[], name: string): Record<string, string> => {
  const found = objects.filter(
    (o) => o.kind === "ConfigMap" && new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name),
  );
  if (found.length !== 1) throw new Error(`${found.length} ConfigMaps ${name}-<hash>`);
  return found[0].data;
};

interface PodTemplate {
  owner: string;
  labels: Record<string, string>;
  spec: Manifest;
}

/** Every pod the kit runs: Deployments, the Job, the CronJobs' jobs. */
function podTemplates(objects: Manifest[]): PodTemplate[] {
  return objects.flatMap((o): PodTemplate[] => {
    const template =
      o.kind === "Deployment" || o.kind === "Job"
        ? o.spec.template
        : o.kind === "CronJob"
          ? o.spec.jobTemplate.spec.template
          : null;
    if (!template) return [];
    return [
      {
        owner: `${o.kind}/${o.metadata.name}`,
        labels: template.metadata.labels,
        spec: template.spec,
      },
    ];
  });
}

/** A container's environment as the kubelet gives it: envFrom ConfigMaps, then env. */
function containerEnv(objects: Manifest[], container: Manifest): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef)
      throw new Error(`envFrom other than a ConfigMap: ${JSON.stringify(source)}`);
    Object.assign(env, find(objects, "ConfigMap", source.configMapRef.name).data);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = String(entry.value);
    else if (entry.valueFrom?.fieldRef?.fieldPath === "metadata.name")
      env[entry.name] = "propgate-api-7d9c5b8f6-x2x7q";
    else
      throw new Error(
        `${entry.name}: only literal values and the pod's name, never ${JSON.stringify(entry.valueFrom)}`,
      );
  }
  return env;
}

const apiContainer = (objects: Manifest[]) =>
  find(objects, "Deployment", "propgate-api").spec.template.spec.containers[0];

describe.skipIf(missing !== null)("Kubernetes kit (infra/k8s)", () => {
  test("kubectl kustomize builds every overlay, without deprecation warnings", () => {
    for (const overlay of OVERLAYS) {
      const kinds = new Set(rendered[overlay].map((o) => o.kind));
      expect({ overlay, kinds: [...kinds].sort() }).toEqual({
        overlay,
        kinds: expect.arrayContaining([
          "ConfigMap",
          "CronJob",
          "Deployment",
          "HorizontalPodAutoscaler",
          "Job",
          "NetworkPolicy",
          "PodDisruptionBudget",
          "PrometheusRule",
          "Service",
          "ServiceMonitor",
        ]),
      });
    }
  });

  test("every rendered object validates against the Kubernetes API schemas", () => {
    for (const overlay of OVERLAYS) {
      for (const object of rendered[overlay]) {
        const key = `${object.apiVersion}/${object.kind}`;
        const Model = MODELS[key];
        expect({ overlay, key, known: Model !== undefined }).toEqual({ overlay, key, known: true });
        if (!Model) continue;
        let problem: string | null = null;
        try {
          new Model(object).validate();
        } catch (error) {
          problem = error instanceof Error ? error.message : String(error);
        }
        expect({ overlay, object: `${key} ${object.metadata.name}`, problem }).toEqual({
          overlay,
          object: `${key} ${object.metadata.name}`,
          problem: null,
        });
      }
    }
    // The validator is live: a wrong type in the same Deployment is refused.
    const broken = structuredClone(find(rendered.base, "Deployment", "propgate-api"));
    broken.spec.replicas = "two";
    expect(() => new Deployment(broken).validate()).toThrow("replicas");
  });

  test("the kit holds every object: api ×2+, PDB, HPA, Services, migrate Job, probe ×1, admin ×2, CronJobs, monitoring", () => {
    for (const overlay of ["base", "production"] as const) {
      const objects = rendered[overlay];
      const api = find(objects, "Deployment", "propgate-api");
      expect(api.spec.replicas).toBeGreaterThanOrEqual(2);
      expect(api.spec.template.spec.containers[0].args).toEqual(["api"]);
      const apiLabels = api.spec.template.metadata.labels;
      const selects = (selector: Record<string, string>) =>
        Object.entries(selector).every(([key, value]) => apiLabels[key] === value);
      expect(
        selects(find(objects, "PodDisruptionBudget", "propgate-api").spec.selector.matchLabels),
      ).toBe(true);
      expect(find(objects, "PodDisruptionBudget", "propgate-api").spec.maxUnavailable).toBe(1);
      expect(selects(find(objects, "Service", "propgate-api").spec.selector)).toBe(true);
      expect(selects(find(objects, "Service", "propgate-api-partner").spec.selector)).toBe(true);
      const hpa = find(objects, "HorizontalPodAutoscaler", "propgate-api");
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "propgate-api",
      });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(api.spec.replicas);
      // A new api pod serves only after the old ones' replacement is ready: no capacity lost.
      expect(api.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);

      const migrate = find(objects, "Job", "propgate-migrate");
      expect(migrate.spec.template.spec.containers[0].args).toEqual(["migrate"]);
      expect(migrate.metadata.annotations["argocd.argoproj.io/hook"]).toBe("PreSync");
      expect(migrate.spec.template.spec.restartPolicy).toBe("Never");

      const probe = find(objects, "Deployment", "propgate-health-probe");
      expect(probe.spec.replicas).toBe(1);
      expect(probe.spec.strategy.type).toBe("Recreate");
      expect(probe.spec.template.spec.containers[0].args).toEqual(["health-probe"]);
      const admin = find(objects, "Deployment", "propgate-admin");
      expect(admin.spec.replicas).toBe(2);
      expect(admin.spec.template.spec.containers[0].args).toEqual(["admin"]);

      const cronArgs = (name: string) =>
        find(objects, "CronJob", name).spec.jobTemplate.spec.template.spec.containers[0].args;
      expect(cronArgs("propgate-audit-verify")).toEqual(["propgate", "audit", "verify"]);
      expect(cronArgs("propgate-security-check").slice(0, 2)).toEqual([
        "propgate",
        "security-check",
      ]);
      expect(cronArgs("propgate-retention")).toEqual(["propgate", "retention", "run"]);
      for (const name of ["propgate-audit-verify", "propgate-security-check", "propgate-retention"])
        expect(find(objects, "CronJob", name).spec.concurrencyPolicy).toBe("Forbid");
    }
  });

  test("the PrometheusRule is infra/prometheus/alerts.yml, rule for rule (bun run k8s-rules)", () => {
    const alerts = readFileSync(join(ROOT, "infra/prometheus/alerts.yml"), "utf8");
    const committed = readFileSync(join(K8S, "base/prometheus-rule.yaml"), "utf8");
    expect(committed).toBe(prometheusRuleYaml(alerts));
    const source = Bun.YAML.parse(alerts) as Manifest;
    for (const overlay of OVERLAYS)
      expect(find(rendered[overlay], "PrometheusRule", "propgate").spec.groups).toEqual(
        source.groups,
      );
  });

  test("the ServiceMonitors scrape the api's and the probe's metrics ports under the job names the alerts use", () => {
    for (const overlay of ["base", "production"] as const) {
      const objects = rendered[overlay];
      for (const name of ["propgate-api", "propgate-health-probe"]) {
        const monitor = find(objects, "ServiceMonitor", name);
        const service = find(objects, "Service", name);
        expect(
          Object.entries(monitor.spec.selector.matchLabels).every(
            ([k, v]) => service.metadata.labels[k] === v,
          ),
        ).toBe(true);
        expect(monitor.spec.endpoints.map((e: Manifest) => e.port)).toEqual(["metrics"]);
        expect(service.spec.ports.some((p: Manifest) => p.name === "metrics")).toBe(true);
        // prometheus-operator takes the job label from this Service label.
        expect(service.metadata.labels[monitor.spec.jobLabel]).toBe(name);
      }
    }
    const alerts = readFileSync(join(ROOT, "infra/prometheus/alerts.yml"), "utf8");
    expect(alerts).toContain('up{job="propgate-health-probe"}');
  });

  test("api probes: startup, liveness /healthz, readiness /readyz on the http port", () => {
    for (const overlay of ["base", "production"] as const) {
      const api = apiContainer(rendered[overlay]);
      expect(api.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(api.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(api.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
      // A slow start is the startup probe's business, never a liveness kill.
      expect(
        api.startupProbe.periodSeconds * api.startupProbe.failureThreshold,
      ).toBeGreaterThanOrEqual(30);
    }
    // Podman runs liveness and startup probes as curl/nc inside the container (the image has
    // neither): the local overlay keeps readiness only, HAProxy checks /readyz from outside.
    const local = apiContainer(rendered.local);
    expect(local.readinessProbe.httpGet.path).toBe("/readyz");
    expect([local.startupProbe, local.livenessProbe]).toEqual([undefined, undefined]);
  });

  test("shutdown: the grace period outlasts SHUTDOWN_GRACE_MS and the drain outlasts the readiness probe", () => {
    for (const overlay of OVERLAYS) {
      const objects = rendered[overlay];
      for (const deployment of objects.filter(
        (o) => o.kind === "Deployment" && o.spec.template.spec.containers[0].args[0] === "api",
      )) {
        const pod = deployment.spec.template.spec;
        const container = pod.containers[0];
        const envVars = containerEnv(objects, container);
        expect(envVars.SHUTDOWN_DRAIN_MS).toBeDefined();
        const verdict = checkProgramEnv("api", envVars);
        expect(verdict.error).toBeNull();
        const env = verdict.loaded as ApiEnv;
        const where = `${overlay} ${deployment.metadata.name}`;
        // The process exits by itself within SHUTDOWN_GRACE_MS; SIGKILL comes 5 s later at the soonest.
        expect({
          where,
          graceMs: pod.terminationGracePeriodSeconds * 1000 - env.SHUTDOWN_GRACE_MS >= 5000,
        }).toEqual({ where, graceMs: true });
        // run.ts caps the drain at half the grace; past it the drain would be cut short.
        expect(env.shutdownDrainMs).toBeLessThanOrEqual(env.SHUTDOWN_GRACE_MS / 2);
        // The drain is the pre-stop: no hook adds to it (the image has no shell to run one).
        expect(container.lifecycle?.preStop).toBeUndefined();
        const readiness = container.readinessProbe;
        const outAfterMs = readiness.periodSeconds * (readiness.failureThreshold ?? 3) * 1000;
        expect({ where, drainCoversReadiness: env.shutdownDrainMs >= outAfterMs }).toEqual({
          where,
          drainCoversReadiness: true,
        });
      }
    }
  });

  test("every pod runs as non-root, read-only, no privilege escalation, no capabilities, seccomp RuntimeDefault", () => {
    for (const overlay of OVERLAYS) {
      for (const pod of podTemplates(rendered[overlay])) {
        expect({
          overlay,
          pod: pod.owner,
          automount: pod.spec.automountServiceAccountToken,
        }).toEqual({ overlay, pod: pod.owner, automount: false });
        for (const container of pod.spec.containers) {
          const pc = pod.spec.securityContext ?? {};
          const cc = container.securityContext ?? {};
          const effective = {
            runAsNonRoot: cc.runAsNonRoot ?? pc.runAsNonRoot,
            nonRootUser: (cc.runAsUser ?? pc.runAsUser) > 0,
            readOnlyRootFilesystem: cc.readOnlyRootFilesystem,
            allowPrivilegeEscalation: cc.allowPrivilegeEscalation,
            capabilities: cc.capabilities,
            seccomp: (cc.seccompProfile ?? pc.seccompProfile)?.type,
            privileged: cc.privileged ?? false,
          };
          expect({ overlay, pod: pod.owner, effective }).toEqual({
            overlay,
            pod: pod.owner,
            effective: {
              runAsNonRoot: true,
              nonRootUser: true,
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ["ALL"] },
              seccomp: "RuntimeDefault",
              privileged: false,
            },
          });
        }
      }
    }
    const namespace = find(rendered.production, "Namespace", "propgate");
    expect(namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  test("resources: requests and limits everywhere, BUN_JSC_forceRAMSize = the memory limit less 256 MiB", () => {
    for (const overlay of OVERLAYS) {
      for (const pod of podTemplates(rendered[overlay])) {
        for (const container of pod.spec.containers) {
          const { requests, limits } = container.resources ?? {};
          const where = `${overlay} ${pod.owner}`;
          expect({ where, cpu: Boolean(requests?.cpu && limits?.cpu) }).toEqual({
            where,
            cpu: true,
          });
          const limit = quantityBytes(limits.memory);
          expect(quantityBytes(requests.memory)).toBe(limit);
          const budget = containerEnv(rendered[overlay], container).BUN_JSC_forceRAMSize;
          expect({ where, budget: Number(budget) }).toEqual({
            where,
            budget: limit - HEAP_HEADROOM_BYTES,
          });
        }
      }
    }
  });

  test("secrets are files: every *_FILE names an item of a mounted Secret; no secret in an env value or a ConfigMap", () => {
    for (const overlay of OVERLAYS) {
      const objects = rendered[overlay];
      for (const pod of podTemplates(objects)) {
        const secretFiles = new Map<string, string>();
        for (const container of pod.spec.containers) {
          for (const mount of container.volumeMounts ?? []) {
            const volume = pod.spec.volumes.find((v: Manifest) => v.name === mount.name);
            if (!volume.secret) continue;
            expect(mount.readOnly).toBe(true);
            expect(volume.secret.items.length).toBeGreaterThan(0);
            for (const item of volume.secret.items)
              secretFiles.set(
                `${mount.mountPath}/${item.path}`,
                `${volume.secret.secretName}/${item.key}`,
              );
          }
          for (const entry of container.env ?? [])
            expect(entry.valueFrom?.secretKeyRef).toBeUndefined();
          for (const [name, value] of Object.entries(containerEnv(objects, container))) {
            const where = `${overlay} ${pod.owner} ${name}`;
            if (name.endsWith("_FILE")) {
              expect({ where, fromSecret: secretFiles.has(value) }).toEqual({
                where,
                fromSecret: true,
              });
            } else
              expect({ where, secret: looksSecret(name, value) }).toEqual({ where, secret: null });
          }
        }
      }
      for (const configMap of objects.filter((o) => o.kind === "ConfigMap")) {
        for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) {
          const entries = key.endsWith(".env")
            ? Object.entries(parseEnvText(value))
            : [[key, value]];
          for (const [name, text] of entries) {
            const where = `${overlay} ConfigMap ${configMap.metadata.name} ${name}`;
            expect({ where, secret: looksSecret(name as string, text as string) }).toEqual({
              where,
              secret: null,
            });
          }
        }
      }
    }
  });

  test("every variable a manifest sets is read by its program, and each program starts with what it is given", () => {
    for (const overlay of OVERLAYS) {
      const objects = rendered[overlay];
      for (const pod of podTemplates(objects)) {
        for (const container of pod.spec.containers) {
          const program = programOf(container.args);
          const { error, unread } = checkProgramEnv(program, containerEnv(objects, container));
          expect({ overlay, pod: pod.owner, program, error, unread }).toEqual({
            overlay,
            pod: pod.owner,
            program,
            error: null,
            unread: [],
          });
        }
      }
    }
  });

  test("a missing required setting or an unknown one is caught", () => {
    const objects = rendered.base;
    const env = containerEnv(objects, apiContainer(objects));
    const { AUTH_JWKS_URL: _, ...withoutJwks } = env;
    expect(checkProgramEnv("api", withoutJwks).error).toBe("config: AUTH_JWKS_URL is missing");
    expect(checkProgramEnv("api", { ...env, PARTNER_INTERCOM_TIMEOUT: "5000" }).unread).toEqual([
      "PARTNER_INTERCOM_TIMEOUT",
    ]);
  });

  test("network policy: metrics only from the monitoring namespace, the partner surface only from the VPN CIDR", () => {
    for (const overlay of OVERLAYS) {
      const objects = rendered[overlay];
      for (const deployment of objects.filter((o) => o.kind === "Deployment")) {
        const labels = deployment.spec.template.metadata.labels;
        const policies = objects.filter(
          (o) =>
            o.kind === "NetworkPolicy" &&
            Object.entries(o.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v),
        );
        // Selected by some policy: ingress is closed unless a rule opens it.
        expect(policies.length).toBeGreaterThan(0);
        const container = deployment.spec.template.spec.containers[0];
        const peersOf = (port: string) =>
          policies.flatMap((policy) =>
            (policy.spec.ingress ?? [])
              .filter(
                (rule: Manifest) =>
                  !rule.ports || rule.ports.some((p: Manifest) => p.port === port),
              )
              .flatMap((rule: Manifest) => rule.from ?? ["anyone"]),
          );
        const ports = (container.ports ?? []).map((p: Manifest) => p.name);
        if (ports.includes("metrics"))
          expect({
            overlay,
            deployment: deployment.metadata.name,
            peers: peersOf("metrics"),
          }).toEqual({
            overlay,
            deployment: deployment.metadata.name,
            peers: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
              },
            ],
          });
        if (ports.includes("partner")) {
          const cidrs = containerEnv(objects, container).PARTNER_ALLOWED_CIDRS?.split(",") ?? [];
          expect(cidrs.length).toBeGreaterThan(0);
          expect({ overlay, peers: peersOf("partner") }).toEqual({
            overlay,
            peers: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
          });
        }
      }
    }
  });

  test("security-check reads the api's own settings, and the base and production ones pass it", async () => {
    for (const overlay of OVERLAYS) {
      const objects = rendered[overlay];
      const files = generated(objects, "propgate-api-env-files");
      expect(parseEnvText(files["api.env"] ?? "")).toEqual(generated(objects, "propgate-api"));
      expect(parseEnvText(files["partners.env"] ?? "")).toEqual(
        generated(objects, "propgate-partners"),
      );
      if (overlay === "local") continue;
      const dir = mkdtempSync(join(tmpdir(), "propgate-security-check-"));
      try {
        const args = ["--env", join(dir, "api.env"), "--env", join(dir, "partners.env"), "--json"];
        for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
        const child = Bun.spawn(
          [process.execPath, join(ROOT, "apps/cli/src/main.ts"), "security-check", ...args],
          {
            stdout: "pipe",
            stderr: "pipe",
          },
        );
        const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
        const report = JSON.parse(out) as { findings: { severity: string; message: string }[] };
        const serious = report.findings.filter(
          (f) => f.severity === "high" || f.severity === "critical",
        );
        expect({ overlay, serious, code }).toEqual({ overlay, serious: [], code: 0 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test("production pins its image; local never pulls one", () => {
    for (const pod of podTemplates(rendered.production))
      for (const container of pod.spec.containers)
        expect(container.image).toMatch(/^[^:]+\/[^:]+:(?!latest$)[\w.-]+$|@sha256:/);
    for (const pod of podTemplates(rendered.local))
      for (const container of pod.spec.containers) {
        expect(container.imagePullPolicy).toBe("Never");
        expect(pod.spec.hostNetwork).toBe(true);
      }
  });

  test("local runs two api instances on distinct ports of this machine", () => {
    const apis = rendered.local.filter(
      (o) => o.kind === "Deployment" && o.spec.template.spec.containers[0].args[0] === "api",
    );
    expect(apis.map((d) => d.metadata.name).sort()).toEqual(["propgate-api", "propgate-api-b"]);
    const listeners = apis.flatMap((d) => {
      const env = containerEnv(rendered.local, d.spec.template.spec.containers[0]);
      return [`127.0.0.1:${env.PORT}`, env.METRICS_LISTEN, env.PARTNER_LISTEN];
    });
    expect(new Set(listeners).size).toBe(6);
    const selectors = apis.map((d) => JSON.stringify(d.spec.selector.matchLabels));
    expect(new Set(selectors).size).toBe(2);
  });
});
