; Inno Setup 6 script for Lookaloud on Windows: makes dist\Lookaloud-VERSION-setup.exe from the
; PyInstaller folder dist\lookaloud (packaging\windows\build-windows.ps1 runs both steps).
;   iscc /DAppVersion=0.1.0 packaging\windows\lookaloud.iss
;
; Who it is for: people who install programs with a screen reader (NVDA, JAWS, Narrator).
; - Inno Setup's wizard is built from standard Windows controls (buttons, check boxes, edit
;   fields), which screen readers read and the keyboard drives (Tab, Space, Alt+N for Next);
;   no page here is custom-drawn, and no page relies on a picture to say something.
; - The "modern" style keeps text large; no licence page to scroll through (MIT, in the folder).
; - Per-user by default, so no UAC prompt (the secure desktop it opens is a common place for a
;   screen reader to fall silent); an administrator can still choose "all users".
; - Tasks, both unticked: a desktop shortcut, and starting Lookaloud with Windows. The latter
;   writes the same HKCU Run value as the app's setting "Start Lookaloud when I log in"
;   (desktop_app/autostart.py), so the two always agree, and uninstalling removes it.
; - Lookaloud starts at the end (a ticked check box on the last page, skipped when silent), so
;   the user hears it at once.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Lookaloud"
#define AppExe "Lookaloud.exe"
#define SourceDir "..\..\dist\lookaloud"

[Setup]
AppId={{4C6F6F6B-616C-6F75-642D-536574757031}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Lookaloud developers
AppComments=Describes what is on your screen and answers questions about it, offline.
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern
WizardSizePercent=120
OutputDir=..\..\dist
OutputBaseFilename=Lookaloud-{#AppVersion}-setup
SetupIconFile=..\..\build\icons\lookaloud.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/normal
SolidCompression=yes
CloseApplications=yes
RestartApplications=no
ShowLanguageDialog=auto

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "Put a Lookaloud shortcut on the desktop"; GroupDescription: "Shortcuts:"; Flags: unchecked
Name: "startwithwindows"; Description: "Start Lookaloud when I sign in to Windows"; GroupDescription: "Starting:"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Describes what is on your screen and answers questions about it."
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The same value as desktop_app/autostart.py (RUN_KEY, APP_NAME): the app's setting shows it
; ticked, and unticking it there removes it.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "Lookaloud"; ValueData: """{app}\{#AppExe}"""; Tasks: startwithwindows; Flags: uninsdeletevalue
; Uninstalling removes the value even when the user turned it on later from the app.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "Lookaloud"; Flags: dontcreatekey uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start Lookaloud now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; A running Lookaloud would keep its files open; ask it to quit first.
Filename: "{app}\lookaloud-cli.exe"; Parameters: "trigger quit"; Flags: runhidden skipifdoesntexist; RunOnceId: "QuitLookaloud"
