#!/usr/bin/env bash
# Debian packages the tests use (the image format tests compare with qemu-img and build ISOs with
# genisoimage). Installed only when missing; a machine without apt or network says so and the
# tests that need a tool skip with the reason.
set -u
need=()
command -v qemu-img >/dev/null && command -v qemu-nbd >/dev/null || need+=(qemu-utils)  # qemu-img, qemu-io, qemu-nbd (block storage)
command -v ssh-keygen >/dev/null || need+=(openssh-client)  # key pair fingerprints in the compute tests
command -v genisoimage >/dev/null || need+=(genisoimage)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1
  } || echo "ensure-packages: could not install ${need[*]}" >&2
else
  echo "ensure-packages: missing ${need[*]} (install them as root with apt-get)" >&2
fi
exit 0
