# shellcheck shell=bash
# Optional accounting for `cluster/up --accounting`: a private MariaDB (its
# own data directory, socket and port on 127.0.0.1; the machine's MariaDB,
# if any, is untouched) and slurmdbd, so that sacct and sreport work.
# Sourced by cluster/up after munged is running and before slurmctld starts;
# uses its variables (PMR_CLUSTER_DIR, cl_*, db_port, dbd_port).

start_accounting() {
  local db=$PMR_CLUSTER_DIR/db pass
  local sock=$db/mysql.sock
  mkdir -p "$db/data" "$db/tmp"
  mariadb-install-db --no-defaults --datadir="$db/data" --user=root \
    --skip-test-db --auth-root-authentication-method=socket \
    >>"$cl_log/mariadb-install.log" 2>&1 ||
    cl_die "mariadb-install-db failed: see $cl_log/mariadb-install.log"
  # mariadbd has no daemon mode of its own: detach it here.
  setsid mariadbd --no-defaults --datadir="$db/data" --tmpdir="$db/tmp" --user=root \
    --socket="$sock" --bind-address=127.0.0.1 --port="$db_port" --skip-name-resolve \
    --pid-file="$cl_run/mariadbd.pid" --log-error="$cl_log/mariadbd.log" \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
    </dev/null >>"$cl_log/mariadbd.log" 2>&1 &
  db_ok() { mariadb --no-defaults --socket="$sock" -u root -e 'SELECT 1'; }
  cl_wait 60 mariadbd db_ok

  pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  mariadb --no-defaults --socket="$sock" -u root <<EOF
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF

  # slurmdbd reads slurmdbd.conf beside $SLURM_CONF; it must be private.
  (umask 077 && cat >"$cl_etc/slurmdbd.conf" <<EOF
# Written by cluster/up --accounting.
AuthType=auth/munge
AuthInfo=socket=$cl_munge_socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
PidFile=$cl_run/slurmdbd.pid
LogFile=$cl_log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
EOF
  )
  SLURM_CONF=$cl_conf slurmdbd </dev/null >>"$cl_log/slurmdbd.log" 2>&1
  dbd_ok() { sacctmgr -n list cluster; }
  cl_wait 60 slurmdbd dbd_ok
  sacctmgr -i add cluster pmr >/dev/null
  # Associations let sacct and sreport attribute jobs; nothing is enforced.
  sacctmgr -i add account pmr Description="pmr tests" Organization=pmr >/dev/null
  sacctmgr -i add user root Account=pmr DefaultAccount=pmr >/dev/null
}
