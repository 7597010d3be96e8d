//! What /proc says about a process: resident memory and CPU time.

/// A `kB` field of `/proc/PID/status`, such as `VmRSS` (resident now) or `VmHWM` (the
/// largest resident set so far).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// User plus system CPU time of a process (all its threads), in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    cpu_fields_secs(pid, 11..13)
}

/// The sum of the clock-tick fields `fields` of `/proc/PID/stat`, counted after the
/// command name (11 and 12: user and system time; 13 and 14: those of reaped children).
fn cpu_fields_secs(pid: u32, fields: std::ops::Range<usize>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let all: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let mut ticks = 0u64;
    for field in fields {
        ticks += all.get(field)?.parse::<u64>().ok()?;
    }
    // USER_HZ, which Linux fixes at 100 on every architecture it exports to user space.
    Some(ticks as f64 / 100.0)
}

/// CPU time of a process and of its children now running (a PostgreSQL server: the
/// postmaster and its backends), in seconds; children that ended count through their
/// parent, which reaped them.
pub fn tree_cpu_secs(pid: u32) -> Option<f64> {
    let own = cpu_fields_secs(pid, 11..15)?;
    let children: f64 = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent_pid(child) == Some(pid))
        .filter_map(cpu_secs)
        .sum();
    Some(own + children)
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time the whole machine spent busy (everything but idle and I/O wait), in seconds.
pub fn machine_busy_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(status_kib(me, "VmRSS").unwrap() > 0);
        assert!(cpu_secs(me).is_some());
        assert!(machine_busy_secs().is_some());
    }
}
