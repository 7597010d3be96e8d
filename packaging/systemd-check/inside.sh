#!/bin/sh
# Runs inside the container, started by its systemd: installs the package, checks the service.
exec > /root/result.txt 2>&1
set -x
apt-get install -y /root/openhms.deb || dpkg -i /root/openhms.deb
for i in $(seq 1 30); do systemctl is-active --quiet openhms && break; sleep 1; done
systemctl is-active openhms
systemctl show openhms -p User -p ProtectSystem -p StateDirectory -p NoNewPrivileges -p MainPID -p ActiveState -p SubState
id openhms
ls -ld /var/lib/openhms
for i in $(seq 1 30); do curl -fsS http://127.0.0.1:8080/healthz && break; sleep 1; done
echo
journalctl -u openhms --no-pager | tail -n 30
systemd-analyze security openhms.service --no-pager | tail -n 5
ps -o user,pid,cmd -C hms
# Upgrade: the same package again restarts the service on the new binary.
OLD=$(systemctl show openhms -p MainPID --value)
dpkg -i /root/openhms.deb
for i in $(seq 1 30); do NEW=$(systemctl show openhms -p MainPID --value); [ "$NEW" != "$OLD" ] && [ "$NEW" != 0 ] && break; sleep 1; done
echo "main pid before upgrade $OLD, after $NEW"
for i in $(seq 1 30); do curl -fsS http://127.0.0.1:8080/healthz && break; sleep 1; done
echo
systemctl stop openhms
systemctl is-active openhms
echo DONE
systemctl poweroff
