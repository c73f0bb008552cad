#!/usr/bin/env bash
# Installs the system tools the test suite uses, from Debian's packages. Run as root (CI does).
# Tests that need a tool that is missing skip with a printed reason; in CI nothing may skip.
set -euo pipefail

PACKAGES=(
  postgresql-client   # pg_dump / psql for database tests and operators
  chromium            # the real browser of the WebRTC end-to-end test (driven by playwright-core)
  fonts-dejavu-core   # a font, so the browser renders pages
  wireguard-go        # userspace WireGuard for the VPN test bed (no kernel module here)
  wireguard-tools     # wg: keys, peers, `wg show dump` for the VPN connection log
  nftables            # nft: the partner-surface firewall, loaded into test namespaces
  iproute2            # ip netns / veth for the test bed
  openssl             # throwaway CA and certificates made at test time
  prometheus          # promtool: checks infra/prometheus/alerts.yml; prometheus: the overview browser test
  redis-server        # a throwaway Redis for the drill that stops it (never the shared one)
  libreoffice-calc-nogui  # soffice: opens the audit CSV export as a spreadsheet would
  haproxy             # the load balancer of infra/compose, its config checked with haproxy -c
  wrk                 # the load of door opens while the played api pods are replaced
  systemd             # systemd-analyze: verify and security-score the units of infra/systemd
  podman              # builds and runs the image (infra/image/), as root with runc
  runc                # podman's runtime here: crun fails on this kernel's hybrid cgroups
  buildah             # podman build's engine, also usable alone on the Containerfile
  catatonit           # the pause process of the pods `podman kube play` makes (its infra container)
  ca-certificates     # the CA bundle the image carries (/etc/ssl/certs/ca-certificates.crt)
)
# kubectl (kustomize v5) renders infra/k8s. This machine's image ships it (google-cloud-cli's
# kubectl 1.32); Debian bookworm's kubernetes-client is 1.20, whose kustomize 2.0.3 cannot
# read `patches`/`labels`, so it is no substitute: the test says so when kubectl is missing.

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system tools: all present (${PACKAGES[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system tools: missing ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packages with a daemon (prometheus, redis-server) must not start one here: only the tools are wanted.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "system tools: installed ${missing[*]}"
