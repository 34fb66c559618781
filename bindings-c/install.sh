#!/usr/bin/env bash
# Installs the C library as cargo-c would: the header, libelasticjob.so with
# its SONAME symlinks (libelasticjob.so.0.1.0, .so.0, .so), libelasticjob.a,
# pkg-config files (elasticjob, elasticjob-static) and a CMake package
# (elasticjob::elasticjob, elasticjob::elasticjob_static).
#
#   cargo build --release -p elasticjob-c
#   bindings-c/install.sh /usr/local
#
# Options: --build-dir DIR (where cargo put the libraries; default
# $CARGO_TARGET_DIR/release or target/release), --libdir DIR (default
# PREFIX/lib). DESTDIR stages the files elsewhere, as packagers do; the
# paths written into the files stay PREFIX's.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
LIBDIR=""
PREFIX=""
usage() { echo "usage: $0 [--build-dir DIR] [--libdir DIR] PREFIX" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) [ $# -ge 2 ] || usage; BUILD_DIR="$2"; shift 2 ;;
    --libdir) [ $# -ge 2 ] || usage; LIBDIR="$2"; shift 2 ;;
    -*) usage ;;
    *) [ -z "$PREFIX" ] || usage; PREFIX="$1"; shift ;;
  esac
done
[ -n "$PREFIX" ] || usage
case "$PREFIX" in /*) ;; *) echo "PREFIX must be an absolute path: $PREFIX" >&2; exit 2 ;; esac
LIBDIR="${LIBDIR:-$PREFIX/lib}"
INCLUDEDIR="$PREFIX/include"
DESTDIR="${DESTDIR:-}"

for file in libelasticjob.so libelasticjob.a; do
  if [ ! -f "$BUILD_DIR/$file" ]; then
    echo "$BUILD_DIR/$file is missing: run \`cargo build --release -p elasticjob-c\` first (or pass --build-dir)" >&2
    exit 1
  fi
done

# The version comes from the header, whose macros the build checks against Cargo.toml.
HEADER="$HERE/include/elasticjob.h"
number() { sed -n "s/^#define EJ_VERSION_$1 \([0-9]*\)\$/\1/p" "$HEADER"; }
MAJOR="$(number MAJOR)" MINOR="$(number MINOR)" PATCH="$(number PATCH)"
VERSION="$MAJOR.$MINOR.$PATCH"
# What Rust's standard library needs when linking libelasticjob.a
# (`rustc --print native-static-libs` for x86_64-unknown-linux-gnu).
NATIVE_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
CMAKE_NATIVE_LIBS="$(echo "$NATIVE_LIBS" | sed -e 's/-l//g' -e 's/ /;/g')"
CMAKEDIR="$LIBDIR/cmake/elasticjob"

fill() {
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@INCLUDEDIR@|$INCLUDEDIR|g" \
      -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" \
      -e "s|@CMAKE_TO_LIBDIR@|$(realpath -m --relative-to="$CMAKEDIR" "$LIBDIR")|g" \
      -e "s|@CMAKE_TO_INCLUDEDIR@|$(realpath -m --relative-to="$CMAKEDIR" "$INCLUDEDIR")|g" \
      -e "s|@NATIVE_LIBS@|$1|g" "$2" > "$3"
  chmod 644 "$3"
}

install -d "$DESTDIR$INCLUDEDIR" "$DESTDIR$LIBDIR/pkgconfig" "$DESTDIR$CMAKEDIR"
install -m 644 "$HEADER" "$DESTDIR$INCLUDEDIR/elasticjob.h"
install -m 755 "$BUILD_DIR/libelasticjob.so" "$DESTDIR$LIBDIR/libelasticjob.so.$VERSION"
ln -sfn "libelasticjob.so.$VERSION" "$DESTDIR$LIBDIR/libelasticjob.so.$MAJOR"
ln -sfn "libelasticjob.so.$MAJOR" "$DESTDIR$LIBDIR/libelasticjob.so"
install -m 644 "$BUILD_DIR/libelasticjob.a" "$DESTDIR$LIBDIR/libelasticjob.a"
fill "$NATIVE_LIBS" "$HERE/packaging/elasticjob.pc.in" "$DESTDIR$LIBDIR/pkgconfig/elasticjob.pc"
fill "$NATIVE_LIBS" "$HERE/packaging/elasticjob-static.pc.in" "$DESTDIR$LIBDIR/pkgconfig/elasticjob-static.pc"
fill "$CMAKE_NATIVE_LIBS" "$HERE/packaging/elasticjobConfig.cmake.in" "$DESTDIR$CMAKEDIR/elasticjobConfig.cmake"
fill "$CMAKE_NATIVE_LIBS" "$HERE/packaging/elasticjobConfigVersion.cmake.in" "$DESTDIR$CMAKEDIR/elasticjobConfigVersion.cmake"
echo "installed elasticjob $VERSION into $DESTDIR$PREFIX"
