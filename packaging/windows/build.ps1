# Builds Minga's Windows installer: PyInstaller one-folder app, self-test, then Inno Setup.
# Run from the repository in PowerShell with Python 3.11 and Inno Setup 6 (iscc on PATH).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$env:PYTHONHASHSEED = "0"
$env:SOURCE_DATE_EPOCH = (git log -1 --format=%ct)
if (-not (Test-Path .venv)) { py -3.11 -m venv .venv }
.venv\Scripts\python -m pip install -q -e ".[dev,package]"
# Compile the catalogues the app loads at run time (make does this on Linux and macOS).
.venv\Scripts\pybabel -q compile -d i18n -D minga
# The installer's icon, from the committed PNGs (Pillow only for this step).
.venv\Scripts\python -m pip install -q pillow
.venv\Scripts\python -c "from PIL import Image; Image.open('resources/icons/minga-256.png').save('packaging/windows/minga.ico', sizes=[(16,16),(24,24),(32,32),(48,48),(64,64),(128,128),(256,256)])"
.venv\Scripts\python -m PyInstaller --noconfirm --clean --workpath build\package\windows --distpath dist packaging\minga.spec
$scratch = Join-Path $env:TEMP ("minga-selftest-" + [guid]::NewGuid())
& dist\minga\minga.exe --self-test $scratch
if ($LASTEXITCODE -ne 0) { throw "the built app failed its self-test" }
Remove-Item -Recurse -Force $scratch
$env:MINGA_VERSION = (.venv\Scripts\python -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
iscc packaging\windows\minga.iss
Get-ChildItem dist\minga-*-windows-setup.exe | ForEach-Object { "{0}: {1:N1} MB" -f $_.Name, ($_.Length / 1MB) }
