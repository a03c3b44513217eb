#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond npm, only when they are missing:
#   redis-server        — the Redis job-store and BullMQ tests start their own server on a loopback port;
#   mesa-vulkan-drivers — lavapipe (Vulkan on the CPU), the software GPU under onnxruntime-node's WebGPU
#                         provider; Debian 12's Mesa 22.3 is refused by Dawn, so it comes from bookworm-backports.
#   ffmpeg              — recommended, not required: Debian's ffmpeg/ffprobe get security updates, so the
#                         bot reads media files with them first; without them it falls back to the frozen
#                         binaries inside npm packages (@ffmpeg-installer's is a 2018 build).
# Used by `npm test` (pretest) and by .ci/run. As root it installs; otherwise it names the command to run
# (a missing ffmpeg alone only warns, so the tests still run).
set -euo pipefail

missing=()
backports=()
recommended=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; } || recommended+=(ffmpeg)

mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
mesa_major=${mesa_version%%.*}
if ! [[ "$mesa_major" =~ ^[0-9]+$ ]] || [ "$mesa_major" -lt 24 ]; then
  backports+=(mesa-vulkan-drivers)
fi

if [ "$(id -u)" -ne 0 ] && [ "${#recommended[@]}" -gt 0 ]; then
  echo "Recommended: the system ffmpeg (security-updated) is missing; run as root: sudo bash scripts/system-deps.sh" >&2
  recommended=()
fi
[ "${#missing[@]}" -eq 0 ] && [ "${#backports[@]}" -eq 0 ] && [ "${#recommended[@]}" -eq 0 ] && exit 0

all="${missing[*]} ${backports[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need Debian packages that are missing (${all# }); run as root: sudo bash scripts/system-deps.sh" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ "${#backports[@]}" -gt 0 ]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian ${codename}-backports main" >/etc/apt/sources.list.d/${codename}-backports.list
  fi
fi
echo "Installing Debian packages for the tests: $(echo ${all} "${recommended[@]}")"
if [ "${#missing[@]}" -eq 0 ] && [ "${#backports[@]}" -eq 0 ]; then
  # Only the recommended ffmpeg: a machine without apt access still runs the tests.
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${recommended[@]}" >/dev/null; } ||
    echo "Could not install ${recommended[*]}; the npm ffmpeg binaries are used instead." >&2
  exit 0
fi
apt-get update -qq
if [ "${#recommended[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${recommended[@]}" >/dev/null ||
    echo "Could not install ${recommended[*]}; the npm ffmpeg binaries are used instead." >&2
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${#backports[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends -t "${codename}-backports" "${backports[@]}" >/dev/null
fi
