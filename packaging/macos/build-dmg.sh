#!/usr/bin/env bash
# Builds Minga.app and a compressed dmg on macOS: PyInstaller, self-test, hdiutil.
# Run on a Mac with Python 3.11 from the repository; signing needs MINGA_CODESIGN_IDENTITY.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONHASHSEED=0 SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
[ -x .venv/bin/python ] || python3.11 -m venv .venv
.venv/bin/python -m pip install -q -e '.[dev,package]'
.venv/bin/pybabel -q compile -d i18n -D minga
VERSION=$(.venv/bin/python -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")

# The app icon: every size iconutil wants, from the committed PNGs.
ICONSET=build/package/macos/minga.iconset
rm -rf "$ICONSET" && mkdir -p "$ICONSET"
for size in 16 32 128 256 512; do
  sips -z $size $size resources/icons/minga-512.png --out "$ICONSET/icon_${size}x${size}.png" >/dev/null
  double=$((size * 2))
  sips -z $double $double resources/icons/minga-512.png --out "$ICONSET/icon_${size}x${size}@2x.png" >/dev/null
done
iconutil -c icns "$ICONSET" -o build/package/macos/minga.icns

.venv/bin/python -m PyInstaller --noconfirm --clean --workpath build/package/macos \
  --distpath dist packaging/minga.spec
# A bundle around the one-folder build; Info.plist names the executable and the icon.
APP=dist/Minga.app
rm -rf "$APP" && mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
cp -R dist/minga/. "$APP/Contents/MacOS/"
cp build/package/macos/minga.icns "$APP/Contents/Resources/"
cat > "$APP/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>Minga</string>
  <key>CFBundleIdentifier</key><string>org.minga.Minga</string>
  <key>CFBundleVersion</key><string>$VERSION</string>
  <key>CFBundleShortVersionString</key><string>$VERSION</string>
  <key>CFBundleExecutable</key><string>minga</string>
  <key>CFBundleIconFile</key><string>minga.icns</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>LSMinimumSystemVersion</key><string>11.0</string>
  <key>NSHighResolutionCapable</key><true/>
  <key>CFBundleLocalizations</key><array><string>en</string><string>es</string><string>fr</string><string>ar</string></array>
</dict></plist>
PLIST
scratch=$(mktemp -d)
"$APP/Contents/MacOS/minga" --self-test "$scratch/profile"
rm -rf "$scratch"
if [ -n "${MINGA_CODESIGN_IDENTITY:-}" ]; then
  codesign --deep --force --options runtime --sign "$MINGA_CODESIGN_IDENTITY" "$APP"
fi
DMG=dist/minga-$VERSION-macos-$(uname -m).dmg
rm -f "$DMG"
hdiutil create -volname Minga -srcfolder "$APP" -fs HFS+ -format ULFO -ov "$DMG"
echo "$DMG: $(du -h "$DMG" | cut -f1)"
