<#
.SYNOPSIS
Installs the ovsext driver package and enables the Open vSwitch extension
on a Hyper-V switch.

.DESCRIPTION
Run from an elevated PowerShell on the Hyper-V host, with the package that
`cargo make` builds (ovsext.inf, ovsext.sys, ovsext.cat; see README.md, "On
Windows"). Each step is printed; the first that fails stops the script and
names the command.

  1. netcfg -l <package>\ovsext.inf -c s -i OVSExt
     installs the extension (bound to every Hyper-V switch, disabled);
  2. the Hyper-V management service restarts, so it sees the new extension;
  3. Enable-VMSwitchExtension -VMSwitchName <switch> -Name "Open vSwitch Extension";
  4. Get-VMSwitchExtension checks that it is Enabled and Running.

.PARAMETER SwitchName
The Hyper-V switch to enable the extension on. A switch enables at most one
forwarding extension.

.PARAMETER PackageDir
The driver package directory (default: target\release\ovsext_package of this
repository).

.PARAMETER TrustTestCertificate
Imports the package's WDRLocalTestCert.cer into the machine's Root and
TrustedPublisher stores first (test-signed builds; needs
`bcdedit /set testsigning on` and a reboot).

.EXAMPLE
.\scripts\install.ps1 -SwitchName ovs-switch -PackageDir C:\ovsext_package -TrustTestCertificate
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$SwitchName,
    [string]$PackageDir = (Join-Path $PSScriptRoot '..\target\release\ovsext_package'),
    [switch]$TrustTestCertificate
)

. (Join-Path $PSScriptRoot 'common.ps1')

Invoke-Step 'Check that this PowerShell is elevated' { Assert-Administrator }

$inf = Join-Path $PackageDir 'ovsext.inf'
Invoke-Step "Check the driver package in $PackageDir" {
    foreach ($file in 'ovsext.inf', 'ovsext.sys', 'ovsext.cat') {
        if (-not (Test-Path (Join-Path $PackageDir $file))) {
            throw "$file is missing from $PackageDir (build it with cargo make)"
        }
    }
}

Invoke-Step "Check that the Hyper-V switch '$SwitchName' exists" {
    $null = Get-VMSwitch -Name $SwitchName
}

if ($TrustTestCertificate) {
    $cer = Join-Path $PackageDir 'WDRLocalTestCert.cer'
    Invoke-Step "Trust the test certificate $cer" {
        foreach ($store in 'Root', 'TrustedPublisher') {
            $null = Import-Certificate -FilePath $cer -CertStoreLocation "Cert:\LocalMachine\$store"
        }
    }
}

Invoke-Step "Install the driver package (netcfg)" {
    Invoke-Native 'netcfg' @('-l', $inf, '-c', 's', '-i', $OvsExtComponent)
}

Invoke-Step 'Restart the Hyper-V management service (vmms)' {
    Restart-Service -Name vmms
}

Invoke-Step "Enable '$OvsExtName' on '$SwitchName'" {
    Enable-VMSwitchExtension -VMSwitchName $SwitchName -Name $OvsExtName
}

Invoke-Step "Check that it is enabled and running" {
    $ext = Get-OvsExtension -SwitchName $SwitchName
    if (-not ($ext.Enabled -and $ext.Running)) {
        throw "'$OvsExtName' on '$SwitchName': Enabled=$($ext.Enabled) Running=$($ext.Running)"
    }
}

Write-Host "ovsext is installed and enabled on '$SwitchName'. Until ovs-vswitchd installs flows, that switch forwards nothing."
exit 0
