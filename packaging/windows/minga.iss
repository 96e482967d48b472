; Inno Setup script for Minga on Windows; packaging/windows/build.ps1 builds the app, then runs
; `iscc packaging\windows\minga.iss`. Per-user install: no administrator rights needed.
#define AppVersion GetEnv("MINGA_VERSION")
#if AppVersion == ""
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F0C1F4E-6A4B-4C1E-9E0B-5B2C6A9D3F10}
AppName=Minga
AppVersion={#AppVersion}
AppPublisher=Minga contributors
DefaultDirName={localappdata}\Programs\Minga
DefaultGroupName=Minga
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=minga-{#AppVersion}-windows-setup
Compression=lzma2/ultra64
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SetupIconFile=minga.ico
UninstallDisplayIcon={app}\minga.exe
LicenseFile=..\..\LICENSE

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "es"; MessagesFile: "compiler:Languages\Spanish.isl"
Name: "fr"; MessagesFile: "compiler:Languages\French.isl"
Name: "ar"; MessagesFile: "compiler:Languages\Arabic.isl"

[Files]
Source: "..\..\dist\minga\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\Minga"; Filename: "{app}\minga.exe"
Name: "{userdesktop}\Minga"; Filename: "{app}\minga.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Run]
Filename: "{app}\minga.exe"; Description: "{cm:LaunchProgram,Minga}"; Flags: nowait postinstall skipifsilent
