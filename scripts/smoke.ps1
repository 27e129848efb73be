<#
.SYNOPSIS
Smoke test of ovsext on a WDK test VM (see docs/windows-testing.md): an
internal switch, the extension installed and enabled on it, ovs-vswitchd
running with a bridge and two VM ports, ovs-dpctl's views, a ping between
the two VMs, and the logs collected. Each step prints PASS or FAIL.

.DESCRIPTION
Runs on the test machine (itself a Hyper-V host: nested virtualization),
elevated, with:
  - the driver package that `cargo make` builds (-PackageDir);
  - Open vSwitch 3.7.x for Windows installed under -OvsDir (as its Windows
    install guide's `make install` lays it out: usr\bin, usr\sbin,
    etc\openvswitch, usr\share\openvswitch, var\log\openvswitch), and its
    OVS.psm1 (datapath-windows\misc in the OVS tree), which names VM ports
    with Set-VMNetworkAdapterOVSPort;
  - two Windows VMs (-Vm1, -Vm2) whose first network adapter has a static
    address (-Vm1Address, -Vm2Address) in one subnet, ICMP echo allowed,
    reachable by PowerShell Direct with -GuestCredential.
After a failed step the steps that need it are skipped (SKIP); the logs are
collected whatever happened. Exit status 0 only if every step passed.

.EXAMPLE
$cred = Get-Credential
.\scripts\smoke.ps1 -PackageDir C:\ovsext_package -OvsModule C:\ovs\OVS.psm1 `
    -Vm1 vm1 -Vm1Address 10.0.0.1 -Vm2 vm2 -Vm2Address 10.0.0.2 -GuestCredential $cred
#>
[CmdletBinding()]
param(
    [string]$SwitchName = 'ovs-smoke',
    [string]$PackageDir = (Join-Path $PSScriptRoot '..\target\release\ovsext_package'),
    [string]$OvsDir = 'C:\openvswitch',
    [Parameter(Mandatory = $true)][string]$OvsModule,
    [string]$Bridge = 'br-int',
    [Parameter(Mandatory = $true)][string]$Vm1,
    [Parameter(Mandatory = $true)][string]$Vm1Address,
    [Parameter(Mandatory = $true)][string]$Vm2,
    [Parameter(Mandatory = $true)][string]$Vm2Address,
    [Parameter(Mandatory = $true)][pscredential]$GuestCredential,
    [string]$LogDir = (Join-Path (Get-Location) ("smoke-logs-" + (Get-Date -Format 'yyyyMMdd-HHmmss'))),
    # Sysinternals DebugView, to capture the driver's DbgPrintEx lines into the logs.
    [string]$DebugViewPath
)

. (Join-Path $PSScriptRoot 'common.ps1')

$env:PATH = "$OvsDir\usr\bin;$OvsDir\usr\sbin;$env:PATH"
$script:results = [System.Collections.Generic.List[string]]::new()
$script:broken = $false
$script:dbgview = $null

# Runs one step of the test: PASS if it throws nothing, FAIL (with why)
# if it throws; SKIP once an earlier step failed, unless -Always.
function Test-Step {
    param(
        [Parameter(Mandatory = $true)][string]$What,
        [Parameter(Mandatory = $true)][scriptblock]$Run,
        [switch]$Always
    )
    Write-Host "==> $What"
    if ($script:broken -and -not $Always) {
        Write-Host "SKIP: $What" -ForegroundColor Yellow
        $script:results.Add("SKIP  $What")
        return
    }
    try {
        & $Run
        Write-Host "PASS: $What" -ForegroundColor Green
        $script:results.Add("PASS  $What")
    } catch {
        Write-Host "FAIL: $What" -ForegroundColor Red
        Write-Host "  $($_.Exception.Message)" -ForegroundColor Red
        $script:results.Add("FAIL  ${What}: $($_.Exception.Message)")
        $script:broken = $true
    }
}

# A program's output as text; a non-zero exit status is an error naming it.
function Get-NativeOutput {
    param([string]$Program, [string[]]$Arguments = @())
    $line = (@($Program) + $Arguments) -join ' '
    Write-Host "    > $line"
    $out = & $Program @Arguments 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        throw "'$line' exited with status $LASTEXITCODE`n$out"
    }
    $out
}

New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
$vms = @(
    @{ Name = $Vm1; Address = $Vm1Address; Port = "$Vm1-ovs" },
    @{ Name = $Vm2; Address = $Vm2Address; Port = "$Vm2-ovs" }
)

Test-Step 'This PowerShell is elevated' { Assert-Administrator }

if ($DebugViewPath) {
    Test-Step 'DebugView captures the driver''s kernel debug output' {
        $script:dbgview = Start-Process -FilePath $DebugViewPath -PassThru `
            -ArgumentList @('/accepteula', '/k', '/v', '/t', '/l', (Join-Path $LogDir 'driver-dbgprint.log'))
    }
}

Test-Step "An internal Hyper-V switch '$SwitchName' exists" {
    if (-not (Get-VMSwitch -Name $SwitchName -ErrorAction SilentlyContinue)) {
        Write-Host "    > New-VMSwitch -Name $SwitchName -SwitchType Internal"
        $null = New-VMSwitch -Name $SwitchName -SwitchType Internal
    }
}

Test-Step 'The extension installs and is enabled on it (install.ps1)' {
    & (Join-Path $PSScriptRoot 'install.ps1') -SwitchName $SwitchName -PackageDir $PackageDir
    if ($LASTEXITCODE -ne 0) { throw "install.ps1 exited with status $LASTEXITCODE" }
}

Test-Step 'ovsdb-server and ovs-vswitchd start' {
    $db = "$OvsDir\etc\openvswitch\conf.db"
    if (-not (Test-Path $db)) {
        $null = Get-NativeOutput 'ovsdb-tool' @('create', $db, "$OvsDir\usr\share\openvswitch\vswitch.ovsschema")
    }
    $null = Get-NativeOutput 'ovsdb-server' @('-vfile:info', '--remote=punix:db.sock', '--log-file', '--pidfile', '--detach')
    $null = Get-NativeOutput 'ovs-vsctl' @('--no-wait', 'init')
    $null = Get-NativeOutput 'ovs-vswitchd' @('-vfile:info', '--log-file', '--pidfile', '--detach')
}

Test-Step "Bridge $Bridge is added" {
    $null = Get-NativeOutput 'ovs-vsctl' @('--may-exist', 'add-br', $Bridge)
}

Test-Step "The two VMs' adapters are named for OVS, connected to '$SwitchName' and added to $Bridge" {
    Import-Module $OvsModule
    foreach ($vm in $vms) {
        $vnic = @(Get-VMNetworkAdapter -VMName $vm.Name)[0]
        Write-Host "    > $($vm.Name): Set-VMNetworkAdapterOVSPort -OVSPortName $($vm.Port); Connect-VMNetworkAdapter -SwitchName $SwitchName"
        Disconnect-VMNetworkAdapter -VMNetworkAdapter $vnic
        $vnic | Set-VMNetworkAdapterOVSPort -OVSPortName $vm.Port
        Connect-VMNetworkAdapter -VMNetworkAdapter $vnic -SwitchName $SwitchName
        $null = Get-NativeOutput 'ovs-vsctl' @('--may-exist', 'add-port', $Bridge, $vm.Port)
    }
}

Test-Step 'ovs-dpctl show lists the bridge and both VM ports' {
    $show = Get-NativeOutput 'ovs-dpctl' @('show')
    Write-Host $show
    foreach ($name in @("$Bridge (internal)") + ($vms | ForEach-Object { $_.Port })) {
        if ($show -notmatch ("port \d+: " + [regex]::Escape($name))) {
            throw "ovs-dpctl show has no port '$name'"
        }
    }
}

Test-Step "$Vm1 pings $Vm2 and $Vm2 pings $Vm1" {
    foreach ($pair in @(@($vms[0], $vms[1]), @($vms[1], $vms[0]))) {
        $from, $to = $pair
        Write-Host "    > $($from.Name): Test-Connection $($to.Address) -Count 4"
        $ok = Invoke-Command -VMName $from.Name -Credential $GuestCredential -ArgumentList $to.Address -ScriptBlock {
            param($address)
            Test-Connection -ComputerName $address -Count 4 -Quiet
        }
        if (-not $ok) { throw "$($from.Name) cannot ping $($to.Address)" }
    }
}

Test-Step 'ovs-dpctl dump-flows shows the flows the pings used' {
    $flows = Get-NativeOutput 'ovs-dpctl' @('dump-flows')
    Write-Host $flows
    if ($flows -notmatch 'packets:[1-9]') {
        throw 'no flow with packets after the pings'
    }
}

Test-Step "The logs are collected in $LogDir" -Always {
    $views = [ordered]@{
        'ovs-dpctl-show.txt'   = { ovs-dpctl show -s }
        'ovs-dpctl-flows.txt'  = { ovs-dpctl dump-flows }
        'ovs-vsctl-show.txt'   = { ovs-vsctl show }
        'vmswitch-extension.txt' = { Get-VMSwitchExtension -VMSwitchName $SwitchName | Format-List * }
        'verifier.txt'         = { verifier /query }
    }
    foreach ($file in $views.Keys) {
        & $views[$file] 2>&1 | Out-File -FilePath (Join-Path $LogDir $file)
    }
    Copy-Item -Path "$OvsDir\var\log\openvswitch\*.log" -Destination $LogDir -ErrorAction SilentlyContinue
    if ($script:dbgview) {
        Stop-Process -Id $script:dbgview.Id -ErrorAction SilentlyContinue
    }
    $script:results | Out-File -FilePath (Join-Path $LogDir 'results.txt')
}

Write-Host ''
$script:results | ForEach-Object { Write-Host $_ }
if ($script:broken) { exit 1 }
Write-Host 'smoke test passed'
