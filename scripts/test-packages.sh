#!/usr/bin/env bash
# Checks the release packages that scripts/release.sh makes (it builds them first, into a
# temporary folder, unless --dir DIR has them already):
#   1. file: each binary is what its package says (x86-64 / AArch64 ELF, PE32+ console / GUI);
#      the .exe files import only Windows' own DLLs and carry the icon; sealkeeper.exe --version
#      and help run under wine;
#   2. lintian on both .debs: no error or warning that packaging/linux/lintian-overrides does not
#      explain;
#   3. the amd64 .deb in a fresh Debian 12 made here by mmdebstrap (from this machine's Debian
#      mirror): its dependencies from apt, then dpkg -i, sealkeeper --version, demo provision and
#      token list as a normal user, every library of both binaries found, then dpkg -r leaves
#      none of the package's files and no new file outside the user's home;
#   4. with --arm64, the same for the arm64 .deb in a fresh Debian 12 arm64 (qemu-user-static);
#   5. --repro: a second release built from a copy of the tree in another folder must have the
#      same bytes (SHA256SUMS equal);
#   6. --wine-tests: scripts/test-wine.sh, the non-GUI packages' tests cross-built and run under
#      wine (the README's "What was and was not tested on Windows" has its table).
# Each step prints how long it took. Not part of scripts/test.sh: it builds three cgo targets
# and a Debian root (see the README's "Release packages" for the figures).
#   scripts/test-packages.sh [--dir DIR] [--repro] [--arm64] [--wine-tests]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/setup.sh --release

dir= repro= arm64= winetests=
while [ $# -gt 0 ]; do
  case "$1" in
  --dir) dir=$2; shift 2 ;;
  --repro) repro=1; shift ;;
  --arm64) arm64=1; shift ;;
  --wine-tests) winetests=1; shift ;;
  *) echo "test-packages: unknown argument $1 (--dir DIR, --repro, --arm64, --wine-tests)" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== $1 ($((SECONDS - t0)) s so far)"; }
t0=$SECONDS
fail() { echo "test-packages: FAIL: $*" >&2; exit 1; }

if [ -z "$dir" ]; then
  step "release build"
  dir=$work/release
  bash scripts/release.sh --out "$dir"
fi
deb_amd64=$(ls "$dir"/sealkeeper_*_amd64.deb)
deb_arm64=$(ls "$dir"/sealkeeper_*_arm64.deb)
winzip=$(ls "$dir"/sealkeeper-*-windows-amd64.zip)
version=$(dpkg-deb -f "$deb_amd64" Version)
(cd "$dir" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS in $dir does not match the files"

step "file: the binaries are what they claim"
# want FILE PATTERN: file(1)'s description of FILE must match PATTERN.
want() {
  local d
  d=$(file -b "$1")
  echo "  $(basename "$1"): $d"
  [[ $d =~ $2 ]] || fail "$1 is not $2"
}
for a in amd64 arm64; do
  deb_var=deb_$a
  mkdir -p "$work/x-$a"
  dpkg-deb -x "${!deb_var}" "$work/x-$a"
  [ "$a" = amd64 ] && m=x86-64 || m="ARM aarch64"
  for b in sealkeeper sealkeeper-gui; do
    want "$work/x-$a/usr/bin/$b" "^ELF 64-bit LSB pie executable, $m, .*dynamically linked, interpreter /lib.*stripped"
  done
done
unzip -q -d "$work/win" "$winzip"
want "$work/win/SealKeeper/sealkeeper.exe" '^PE32\+ executable \(console\) x86-64.*MS Windows'
want "$work/win/SealKeeper/sealkeeper-gui.exe" '^PE32\+ executable \(GUI\) x86-64.*MS Windows'
# Only Windows' own DLLs: nothing from the mingw runtime that the zip would have to carry.
dlls=$(x86_64-w64-mingw32-objdump -p "$work/win/SealKeeper/sealkeeper-gui.exe" "$work/win/SealKeeper/sealkeeper.exe" |
  sed -n 's/^\s*DLL Name: //p' | tr '[:upper:]' '[:lower:]' | sort -u)
echo "  the .exe files import: $(echo $dlls)"
extra=$(echo "$dlls" | grep -vE '^(kernel32|user32|gdi32|shell32|ole32|opengl32|advapi32|winmm|msvcrt|ws2_32|winspool\.drv|imm32|dwmapi|ntdll|bcrypt|powrprof|comdlg32|setupapi|shcore|oleaut32|uxtheme|version|cfgmgr32|api-ms-win-.*)(\.dll)?$' || true)
[ -z "$extra" ] || fail "the Windows programs need DLLs that Windows does not have: $extra"
for exe in sealkeeper.exe sealkeeper-gui.exe; do
  # Resource type 14 is RT_GROUP_ICON, the icon Explorer shows (release.sh links it in).
  x86_64-w64-mingw32-objdump -p "$work/win/SealKeeper/$exe" | grep -q 'Entry: ID: 0x00000e,' || fail "$exe has no icon resource"
done
echo "  both .exe files carry the icon"

step "wine: the Windows CLI starts"
# Debian 12's wine 8.0 has no bcryptprimitives.dll, which Go's runtime needs before main; the
# stand-in in packaging/windows/wine (built here, never shipped) goes into the prefix's system32.
export WINEPREFIX=$work/wine WINEDEBUG=-all
wine=/usr/lib/wine/wine64
"$wine" wineboot --init >/dev/null 2>&1 || fail "wine could not make a prefix in $WINEPREFIX"
without=$("$wine" "$work/win/SealKeeper/sealkeeper.exe" --version 2>&1 | head -1 || true)
echo "  without the stand-in: $without"
x86_64-w64-mingw32-gcc -shared -O2 -Wl,--no-insert-timestamp -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  packaging/windows/wine/bcryptprimitives.c -ladvapi32
v=$("$wine" "$work/win/SealKeeper/sealkeeper.exe" --version 2>&1) || fail "sealkeeper.exe --version under wine: $v"
echo "  $v"
[[ $v == "sealkeeper $version (windows/amd64, go"* ]] || fail "sealkeeper.exe --version under wine said \"$v\", want $version for windows/amd64"
"$wine" "$work/win/SealKeeper/sealkeeper.exe" help 2>&1 | grep -q '^ *verify ' || fail "sealkeeper.exe help under wine does not list the commands"
echo "  sealkeeper.exe help lists the commands"
unset WINEPREFIX WINEDEBUG

step "lintian"
for d in "$deb_amd64" "$deb_arm64"; do
  # --fail-on warning: an error or warning not explained in the package's overrides fails.
  lintian --fail-on error,warning --display-info "$d" || fail "lintian on $(basename "$d")"
  echo "  $(basename "$d"): $(lintian --show-overrides "$d" | grep -c '^O:') overridden tags (packaging/linux/lintian-overrides says why)"
done

# fresh_debian ARCH DEB: installs, runs and removes DEB in a fresh Debian 12 for ARCH made by
# mmdebstrap from this machine's Debian mirror (arm64 runs through qemu-user-static's binfmt
# handler, registered with the F flag so that it works inside the chroot).
fresh_debian() {
  local arch=$1 deb=$2 depends
  depends=$(dpkg-deb -f "$deb" Depends | sed -e 's/([^)]*)//g' -e 's/|[^,]*//g' -e 's/,/ /g')
  cat >"$work/inside-$arch.sh" <<EOF
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
apt-get install -y -qq --no-install-recommends $depends softhsm2 >/dev/null
useradd -m custodian
touch /tmp/before-install
dpkg -i /tmp/sealkeeper.deb
v=\$(sealkeeper --version)
echo "  \$v"
case "\$v" in "sealkeeper $version (linux/$arch, go"*) ;; *) echo "wrong version: \$v (want $version for linux/$arch)"; exit 1 ;; esac
for b in sealkeeper sealkeeper-gui; do
  if ldd /usr/bin/\$b | grep 'not found'; then echo "/usr/bin/\$b: a library is missing"; exit 1; fi
done
runuser -u custodian -- sealkeeper demo provision
runuser -u custodian -- sealkeeper token list --config /home/custodian/.local/share/sealkeeper/demo/config.toml | grep -q 'SealKeeper Demo'
test -f /usr/share/applications/org.sealkeeper.app.desktop
grep -q 'TAG+="uaccess"' /lib/udev/rules.d/70-sealkeeper.rules
dpkg -L sealkeeper >/tmp/files
dpkg -r sealkeeper >/dev/null
left=\$(while read -r f; do if [ -e "\$f" ] && [ ! -d "\$f" ]; then echo "\$f"; fi; done </tmp/files)
[ -z "\$left" ] || { echo "dpkg -r left the package's files: \$left"; exit 1; }
new=\$(find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /home/custodian -o -path /var/lib/dpkg -o -path /var/log -o -path /var/cache \) -prune -o \( -type f -o -type l \) -newer /tmp/before-install -print)
[ -z "\$new" ] || { echo "after dpkg -r these files are new since the install: \$new"; exit 1; }
echo "  $arch: installed, ran sealkeeper --version, demo provision and token list, removed: no file left"
EOF
  mmdebstrap --variant=apt --quiet --architectures="$arch" \
    --customize-hook="upload $deb /tmp/sealkeeper.deb" \
    --customize-hook="upload $work/inside-$arch.sh /tmp/inside.sh" \
    --customize-hook='chroot "$1" sh /tmp/inside.sh' \
    bookworm /dev/null "$mirror" || fail "the $arch .deb in a fresh Debian 12 $arch (see above)"
}
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

step "install, run and remove the amd64 .deb in a fresh Debian 12 (mmdebstrap)"
fresh_debian amd64 "$deb_amd64"

if [ -n "$arm64" ]; then
  step "install, run and remove the arm64 .deb in a fresh Debian 12 arm64 (mmdebstrap, qemu-user-static)"
  # binfmt_misc lets the kernel hand AArch64 programs to qemu-aarch64-static; a container may
  # have it unmounted (mounting needs root) or not be allowed it at all.
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
    fail "binfmt_misc cannot be mounted here, so arm64 programs cannot run in a chroot: run without --arm64"
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null ||
    fail "qemu-aarch64 is not registered with binfmt_misc's F flag: apt-get install qemu-user-static binfmt-support"
  fresh_debian arm64 "$deb_arm64"
fi

if [ -n "$repro" ]; then
  step "reproducibility: the same release from a copy in another folder"
  mkdir -p "$work/src"
  tar --exclude=./build --exclude=./.git -c . | tar -x -C "$work/src"
  # The copy has no .git, and DIR may come from an older commit: the version, commit and time
  # are the first build's, read from its changelog.
  cl=$(zcat "$work/x-amd64/usr/share/doc/sealkeeper/changelog.gz")
  commit=$(sed -n 's/.*built from commit \([0-9a-f]*\)\..*/\1/p' <<<"$cl")
  sde=$(date -d "$(sed -n 's/^ -- .*>  //p' <<<"$cl")" +%s)
  [ -n "$commit" ] && [ -n "$sde" ] || fail "no commit or date in the changelog of $(basename "$deb_amd64")"
  (cd "$work/src" && VERSION=$version SOURCE_DATE_EPOCH=$sde COMMIT=$commit bash scripts/release.sh --out "$work/again")
  if ! cmp -s "$dir/SHA256SUMS" "$work/again/SHA256SUMS"; then
    diff "$dir/SHA256SUMS" "$work/again/SHA256SUMS" || true
    fail "two builds of the same source differ"
  fi
  echo "  both builds: identical SHA256SUMS"
fi
if [ -n "$winetests" ]; then
  step "the non-GUI packages' tests under wine (scripts/test-wine.sh)"
  bash scripts/test-wine.sh || fail "a package's tests failed under wine for a reason scripts/test-wine.sh does not know (see above)"
fi
step "all package checks passed"
