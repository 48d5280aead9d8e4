#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod local;
pub mod rows;

pub use local::LocalCluster;
pub use rows::same_rows;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::FunctionRegistry;
use std::sync::Arc;

/// Ballista's default functions plus fuserec's (what an executor may be asked to run).
pub fn function_registry() -> Arc<BallistaFunctionRegistry> {
    let mut r = BallistaFunctionRegistry::default();
    for f in fuserec_offline::udf::all() {
        r.scalar_functions.insert(f.name().to_string(), Arc::new(f));
    }
    Arc::new(r)
}

/// The scheduler's sessions: Ballista's default with fuserec's functions (a client's plan names
/// them; the scheduler must resolve them to plan the stages).
pub fn session_builder() -> ballista_scheduler::scheduler_server::SessionBuilder {
    Arc::new(|mut config: datafusion::prelude::SessionConfig| {
        // Ballista 55's executors panic deserialising a sort's dynamic filter (and the job then
        // never ends): no dynamic filters in the plans this scheduler makes.
        config.options_mut().optimizer.enable_dynamic_filter_pushdown = false;
        let mut state = default_session_builder(config)?;
        for f in fuserec_offline::udf::all() {
            state.register_udf(Arc::new(f))?;
        }
        Ok(state)
    })
}

/// Where a scheduler listens and how fast it gives up on lost executors and failing tasks.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Bind address (loopback by default).
    pub host: String,
    /// gRPC and REST port.
    pub port: u16,
    /// Seconds without a heartbeat before an executor is declared lost (its tasks re-run
    /// elsewhere).
    pub executor_timeout_seconds: u64,
    /// Attempts of one task before its job fails.
    pub task_max_failures: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { host: "127.0.0.1".into(), port: 50050, executor_timeout_seconds: 10, task_max_failures: 4 }
    }
}

/// Runs Ballista's scheduler with fuserec's session builder until the process ends.
pub async fn run_scheduler(o: SchedulerOptions) -> ballista_core::error::Result<()> {
    let config = SchedulerConfig {
        bind_host: o.host.clone(),
        external_host: o.host.clone(),
        bind_port: o.port,
        executor_timeout_seconds: o.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: 1,
        task_max_failures: o.task_max_failures,
        override_session_builder: Some(session_builder()),
        ..Default::default()
    };
    let addr = format!("{}:{}", o.host, o.port)
        .parse()
        .map_err(|e: std::net::AddrParseError| ballista_core::error::BallistaError::Configuration(e.to_string()))?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await
}

/// Where an executor listens, which scheduler it serves and how many tasks it runs at once.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// Bind address (loopback by default).
    pub host: String,
    /// Arrow Flight port (shuffle data).
    pub port: u16,
    /// gRPC port (task launches).
    pub grpc_port: u16,
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Tasks at once (default: one per core).
    pub concurrent_tasks: usize,
    /// Shuffle files (default: a temporary folder).
    pub work_dir: Option<String>,
}

/// Runs Ballista's executor with fuserec's functions registered until the process ends.
pub async fn run_executor(o: ExecutorOptions) -> ballista_core::error::Result<()> {
    let config = ExecutorProcessConfig {
        bind_host: o.host.clone(),
        external_host: Some(o.host.clone()),
        port: o.port,
        grpc_port: o.grpc_port,
        scheduler_host: o.scheduler_host,
        scheduler_port: o.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: o.concurrent_tasks.max(1),
        work_dir: o.work_dir,
        executor_heartbeat_interval_seconds: 2,
        override_function_registry: Some(function_registry()),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await
}
