//! `fuserec-cluster scheduler|executor`: Ballista's scheduler and executor with fuserec's functions.

use fuserec_cluster::{ExecutorOptions, SchedulerOptions, run_executor, run_scheduler};
use std::collections::HashMap;

const HELP: &str = "\
fuserec-cluster <role> [options]     a Ballista scheduler or executor with fuserec's functions

roles:
  scheduler [--host 127.0.0.1] [--port 50050] [--executor-timeout-secs 10] [--task-max-failures 4]
  executor  --scheduler HOST:PORT [--host 127.0.0.1] [--port 50051] [--grpc-port 50052]
            [--concurrent-tasks N (default: cores)] [--work-dir DIR]

`cargo xtask cluster up --executors 2` starts a scheduler and two executors on loopback; the
offline jobs then run there with `--cluster df://127.0.0.1:50050`.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return;
    }
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn options(args: &[String], known: &[&str]) -> Result<HashMap<String, String>, String> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k.strip_prefix("--").filter(|k| known.contains(k)).ok_or_else(|| format!("unknown option `{k}` (see --help)"))?;
        let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
        m.insert(key.to_string(), v.clone());
    }
    Ok(m)
}

fn num<T: std::str::FromStr>(o: &HashMap<String, String>, k: &str, default: T) -> Result<T, String> {
    o.get(k).map_or(Ok(default), |v| v.parse().map_err(|_| format!("--{k}: `{v}` is not a number")))
}

fn run(args: &[String]) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    match args[0].as_str() {
        "scheduler" => {
            let o = options(&args[1..], &["host", "port", "executor-timeout-secs", "task-max-failures"])?;
            let d = SchedulerOptions::default();
            let s = SchedulerOptions {
                host: o.get("host").cloned().unwrap_or(d.host),
                port: num(&o, "port", d.port)?,
                executor_timeout_seconds: num(&o, "executor-timeout-secs", d.executor_timeout_seconds)?,
                task_max_failures: num(&o, "task-max-failures", d.task_max_failures)?,
            };
            eprintln!("fuserec-cluster scheduler on {}:{}", s.host, s.port);
            rt.block_on(run_scheduler(s)).map_err(|e| e.to_string())
        }
        "executor" => {
            let o = options(&args[1..], &["scheduler", "host", "port", "grpc-port", "concurrent-tasks", "work-dir"])?;
            let sched = o.get("scheduler").ok_or("--scheduler HOST:PORT is required")?;
            let (sh, sp) =
                sched.trim_start_matches("df://").rsplit_once(':').ok_or_else(|| format!("--scheduler {sched}: expected HOST:PORT"))?;
            let e = ExecutorOptions {
                host: o.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
                port: num(&o, "port", 50051)?,
                grpc_port: num(&o, "grpc-port", 50052)?,
                scheduler_host: sh.to_string(),
                scheduler_port: sp.parse().map_err(|_| format!("--scheduler {sched}: `{sp}` is not a port"))?,
                concurrent_tasks: num(&o, "concurrent-tasks", std::thread::available_parallelism().map_or(1, |n| n.get()))?,
                work_dir: o.get("work-dir").cloned(),
            };
            eprintln!("fuserec-cluster executor on {}:{} (grpc {}), scheduler {sched}", e.host, e.port, e.grpc_port);
            rt.block_on(run_executor(e)).map_err(|e| e.to_string())
        }
        other => Err(format!("unknown role `{other}` (scheduler, executor; see --help)")),
    }
}
