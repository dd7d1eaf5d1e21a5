# Builds Lookaloud for Windows from this checkout: the PyInstaller folder dist\lookaloud
# (Lookaloud.exe for the desktop, lookaloud-cli.exe for the terminal) and the Inno Setup
# installer dist\Lookaloud-VERSION-setup.exe.
#   pwsh packaging\windows\build-windows.ps1
# Needs Python with Lookaloud and its dev extra installed (PyInstaller), and Inno Setup 6
# (ISCC.exe; set ISCC to its path if it is not in the usual place).
# Not run on the project's Linux machines: the GitHub Actions workflow runs it on windows-latest.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$root = (Get-Location).Path
$py = if ($env:PYTHON) { $env:PYTHON } else { "python" }
$version = (Select-String -Path pyproject.toml -Pattern '^version\s*=\s*"(.*)"').Matches[0].Groups[1].Value

# This checkout's desktop_app goes into the bundle, whatever copy the environment has installed.
$env:PYTHONPATH = $root
& $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller packaging\lookaloud.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed." }
$size = (Get-ChildItem dist\lookaloud -Recurse -File | Measure-Object -Property Length -Sum).Sum / 1MB
Write-Host ("Bundle: dist\lookaloud ({0:N0} MB)" -f $size)

$iscc = if ($env:ISCC) { $env:ISCC } else { Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $iscc)) { throw "Inno Setup 6 is not installed (ISCC.exe not found at $iscc)." }
& $iscc "/DAppVersion=$version" packaging\windows\lookaloud.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed." }
Get-Item "dist\Lookaloud-$version-setup.exe" | ForEach-Object { Write-Host ("Installer: {0} ({1:N0} MB)" -f $_.FullName, ($_.Length / 1MB)) }
