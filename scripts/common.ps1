# Helpers the ovsext scripts share (dot-sourced): each step is printed, and
# the first failure stops the script, naming the command that failed.

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# The extension's friendly name (the INF's and the filter's) and the INF's
# component id.
$OvsExtName = 'Open vSwitch Extension'
$OvsExtComponent = 'OVSExt'

# Runs one step: prints it, runs it, and on any error prints what failed
# and exits 1.
function Invoke-Step {
    param(
        [Parameter(Mandatory = $true)][string]$What,
        [Parameter(Mandatory = $true)][scriptblock]$Run
    )
    Write-Host "==> $What"
    try {
        & $Run
    } catch {
        Write-Host "FAILED: $What" -ForegroundColor Red
        Write-Host "  $($_.Exception.Message)" -ForegroundColor Red
        exit 1
    }
}

# Runs a program (netcfg, ovs-vsctl, ...), echoing its command line; a
# non-zero exit status is an error that names the command.
function Invoke-Native {
    param(
        [Parameter(Mandatory = $true)][string]$Program,
        [string[]]$Arguments = @()
    )
    $line = (@($Program) + $Arguments) -join ' '
    Write-Host "    > $line"
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$line' exited with status $LASTEXITCODE"
    }
}

# Stops unless this PowerShell runs elevated (netcfg, Hyper-V and the
# control device need an administrator).
function Assert-Administrator {
    $principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'run this from an elevated PowerShell (as Administrator)'
    }
}

# The extension's state on a switch, or an error if the switch does not
# list it (the driver package is not installed).
function Get-OvsExtension {
    param([Parameter(Mandatory = $true)][string]$SwitchName)
    $ext = Get-VMSwitchExtension -VMSwitchName $SwitchName -Name $OvsExtName
    if ($null -eq $ext) {
        throw "switch '$SwitchName' has no '$OvsExtName' (is the driver package installed?)"
    }
    $ext
}
