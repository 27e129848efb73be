<#
.SYNOPSIS
Disables the Open vSwitch extension and removes the ovsext driver package:
the reverse of install.ps1.

.DESCRIPTION
Run from an elevated PowerShell on the Hyper-V host. Each step is printed;
the first that fails stops the script and names the command.

  1. ovs-vswitchd and ovsdb-server are asked to exit (ovs-appctl), if running;
  2. Disable-VMSwitchExtension -VMSwitchName <switch> -Name "Open vSwitch Extension",
     on the named switch or on every switch where it is enabled;
  3. netcfg -u OVSExt removes the extension.

.PARAMETER SwitchName
The switch to disable it on (default: every switch where it is enabled).

.EXAMPLE
.\scripts\uninstall.ps1 -SwitchName ovs-switch
#>
[CmdletBinding()]
param(
    [string]$SwitchName
)

. (Join-Path $PSScriptRoot 'common.ps1')

Invoke-Step 'Check that this PowerShell is elevated' { Assert-Administrator }

Invoke-Step 'Stop Open vSwitch (ovs-vswitchd, ovsdb-server) if it runs' {
    if (Get-Process -Name ovs-vswitchd -ErrorAction SilentlyContinue) {
        Invoke-Native 'ovs-appctl' @('exit')
    }
    if (Get-Process -Name ovsdb-server -ErrorAction SilentlyContinue) {
        Invoke-Native 'ovs-appctl' @('-t', 'ovsdb-server', 'exit')
    }
}

Invoke-Step "Disable '$OvsExtName'" {
    $switches = if ($SwitchName) { @($SwitchName) } else {
        @(Get-VMSwitch | Where-Object {
                (Get-VMSwitchExtension -VMSwitch $_ -Name $OvsExtName).Enabled
            } | ForEach-Object { $_.Name })
    }
    foreach ($s in $switches) {
        Write-Host "    > Disable-VMSwitchExtension -VMSwitchName '$s' -Name '$OvsExtName'"
        Disable-VMSwitchExtension -VMSwitchName $s -Name $OvsExtName
    }
}

Invoke-Step 'Remove the driver package (netcfg)' {
    Invoke-Native 'netcfg' @('-u', $OvsExtComponent)
}

Write-Host 'ovsext is uninstalled.'
exit 0
