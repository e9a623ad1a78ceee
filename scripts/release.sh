#!/usr/bin/env bash
# Builds the release packages into OUT (default build/release), with SHA256SUMS:
#   sealkeeper_VERSION_amd64.deb, sealkeeper_VERSION_arm64.deb    Debian 12 / UOS / Kylin
#   sealkeeper-VERSION-windows-amd64.zip                           Windows 10/11, x86-64
#   scripts/release.sh [--out DIR] [TARGET...]     TARGET: deb-amd64 deb-arm64 windows (default: all)
# VERSION is the git tag at HEAD without its "v" (v1.2.0 -> 1.2.0); off a tag it is the last tag
# (or 0.0.0) + commits since + commit, e.g. 1.2.0+3.g1a2b3c4; VERSION=... overrides it. Same
# source, same toolchain -> same bytes: -trimpath, no VCS stamp, no build id, every timestamp
# (files, tar and zip headers, changelog) is SOURCE_DATE_EPOCH, the commit's time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/setup.sh --release

out=build/release
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
  --out) out=$2; shift 2 ;;
  deb-amd64 | deb-arm64 | windows) targets+=("$1"); shift ;;
  *) echo "release: unknown argument $1 (targets: deb-amd64 deb-arm64 windows; --out DIR)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(deb-amd64 deb-arm64 windows)

if [ -z "${VERSION:-}" ]; then
  desc=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null || echo "v0.0.0-$(git rev-list --count HEAD)-g$(git rev-parse --short=7 HEAD)")
  tag=${desc%-*-g*}; rest=${desc#"$tag"-}; n=${rest%%-*}; g=${rest#*-}
  VERSION=${tag#v}
  [ "$n" = 0 ] || VERSION="$VERSION+$n.$g"
  git diff --quiet HEAD -- || VERSION="$VERSION.dirty"
fi
commit=${COMMIT:-$(git rev-parse --short=12 HEAD)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export TZ=UTC LC_ALL=C.UTF-8
umask 022
echo "release: sealkeeper $VERSION, timestamps $(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ), into $out"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
# The Windows icon's resource objects lie in the programs' folders while they build (Go links a
# package's .syso files; that is the only way in); they go with the work folder.
icon_syso=(app/zz_release_icon_windows_amd64.syso app/sealkeeper-gui/zz_release_icon_windows_amd64.syso)
trap 'rm -rf "$work" "${icon_syso[@]}"' EXIT

# gobuild GOOS GOARCH CC OUTPUT PACKAGE [LDFLAGS...]: one reproducible cgo build.
gobuild() {
  local goos=$1 goarch=$2 cc=$3 o=$4 pkg=$5; shift 5
  local mode=()
  [ "$goos" = linux ] && mode=(-buildmode=pie)
  local env=(GOOS="$goos" GOARCH="$goarch" CC="$cc" CGO_ENABLED=1)
  # cgo's pkg-config (libusb) must read the target's .pc files, not the build machine's.
  [ "$goarch" = arm64 ] && env+=(PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
  local t0=$SECONDS
  env "${env[@]}" nice -n 10 go build -trimpath -buildvcs=false "${mode[@]}" \
    -ldflags "-s -w -buildid= -X main.version=$VERSION $*" -o "$o" "$pkg"
  echo "release: built $(basename "$o") for $goos/$goarch in $((SECONDS - t0)) s"
}

# stamp DIR: every file and folder under DIR gets the release's time.
stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

deb() {
  local arch=$1 cc=$2
  local root=$work/deb-$arch pkg=sealkeeper_${VERSION}_$arch.deb t0=$SECONDS
  rm -rf "$root"
  gobuild linux "$arch" "$cc" "$root/usr/bin/sealkeeper" ./app
  gobuild linux "$arch" "$cc" "$root/usr/bin/sealkeeper-gui" ./app/sealkeeper-gui
  install -D -m644 packaging/linux/org.sealkeeper.app.desktop "$root/usr/share/applications/org.sealkeeper.app.desktop"
  install -D -m644 assets/icon.png "$root/usr/share/icons/hicolor/512x512/apps/org.sealkeeper.app.png"
  mkdir -p "$root/lib/udev/rules.d" "$root/usr/share/man/man1" "$root/usr/share/doc/sealkeeper" "$root/DEBIAN"
  go run ./packaging/udev >"$root/lib/udev/rules.d/70-sealkeeper.rules"
  gzip -9n <packaging/linux/sealkeeper.1 >"$root/usr/share/man/man1/sealkeeper.1.gz"
  ln -s sealkeeper.1.gz "$root/usr/share/man/man1/sealkeeper-gui.1.gz"
  install -m644 packaging/linux/copyright "$root/usr/share/doc/sealkeeper/copyright"
  install -D -m644 packaging/linux/lintian-overrides "$root/usr/share/lintian/overrides/sealkeeper"
  printf 'sealkeeper (%s) stable; urgency=medium\n\n  * Release %s, built from commit %s.\n\n -- SealKeeper developers <dev@sealkeeper.org>  %s\n' \
    "$VERSION" "$VERSION" "$commit" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" |
    gzip -9n >"$root/usr/share/doc/sealkeeper/changelog.gz"
  chmod 644 "$root/usr/share/doc/sealkeeper/changelog.gz" "$root/lib/udev/rules.d/70-sealkeeper.rules" "$root/usr/share/man/man1/sealkeeper.1.gz"

  # The libraries the two binaries link, as Debian package versions (dpkg-shlibdeps wants a
  # debian/control to read; the cross target's shlibs come from the :arm64 packages).
  local sd=$work/shlibs-$arch
  mkdir -p "$sd/debian"
  printf 'Source: sealkeeper\n\nPackage: sealkeeper\nArchitecture: any\n' >"$sd/debian/control"
  local depends
  depends=$(cd "$sd" && dpkg-architecture -a"$arch" -f -c dpkg-shlibdeps -O -e"$root/usr/bin/sealkeeper" -e"$root/usr/bin/sealkeeper-gui" 2>"$sd/warnings" |
    sed -n 's/^shlibs:Depends=//p')
  [ -n "$depends" ] || { cat "$sd/warnings" >&2; echo "release: dpkg-shlibdeps found no dependencies for $arch" >&2; exit 1; }
  # GLFW dlopens these X11 extensions at run time, so dpkg-shlibdeps cannot see them.
  depends="$depends, libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1"

  (cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 644 "$root/DEBIAN/md5sums"
  sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@SIZE@/$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)/" packaging/linux/control >"$root/DEBIAN/control"
  stamp "$root"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$pkg" >/dev/null
  made+=("$pkg")
  echo "release: $pkg in $((SECONDS - t0)) s (builds included)  Depends: $depends"
}

windows() {
  local dir=$work/win/SealKeeper zip=sealkeeper-${VERSION}-windows-amd64.zip t0=$SECONDS
  rm -rf "$work/win"
  mkdir -p "$dir"
  # The .exe files' icon for Explorer and the taskbar (the window sets its own at run time).
  go run ./packaging/windows/icon assets/icon.png >"$dir/sealkeeper.ico"
  printf '1 ICON "%s"\n' "$dir/sealkeeper.ico" >"$work/icon.rc"
  x86_64-w64-mingw32-windres -O coff -i "$work/icon.rc" -o "${icon_syso[0]}"
  cp "${icon_syso[0]}" "${icon_syso[1]}"
  gobuild windows amd64 x86_64-w64-mingw32-gcc "$dir/sealkeeper.exe" ./app
  # -H windowsgui: the window opens without a console window behind it.
  gobuild windows amd64 x86_64-w64-mingw32-gcc "$dir/sealkeeper-gui.exe" ./app/sealkeeper-gui -H windowsgui
  rm -f "${icon_syso[@]}"
  sed "s/@VERSION@/$VERSION/" packaging/windows/README.txt | sed 's/$/\r/' >"$dir/README.txt"
  stamp "$work/win"
  rm -f "$out/$zip"
  # -X: no owner or extra timestamps; sorted names; TZ=UTC makes the DOS times the same everywhere.
  (cd "$work/win" && find SealKeeper -print | sort | zip -X -D -q -9 "$out/$zip" -@)
  made+=("$zip")
  echo "release: $zip in $((SECONDS - t0)) s (builds included)"
}

made=()
for t in "${targets[@]}"; do
  case "$t" in
  deb-amd64) deb amd64 gcc ;;
  deb-arm64) deb arm64 aarch64-linux-gnu-gcc ;;
  windows) windows ;;
  esac
done

(cd "$out" && sha256sum -- "${made[@]}" >SHA256SUMS && cat SHA256SUMS)
