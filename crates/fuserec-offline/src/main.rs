//! `fuserec-offline <job>`: fuserec's offline jobs as DataFusion plans over Parquet, embedded or
//! on a Ballista cluster.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", fuserec_offline::cli::HELP);
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(fuserec_offline::cli::run(&args)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
