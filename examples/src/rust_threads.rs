// rust_threads — a Rust program that spawns threads (issue 13: Rust's std calls
// pthread_getattr_np at thread start, which hung under memprof). Four threads build
// vectors, strings and a HashMap; main joins them and prints their results.
use std::collections::HashMap;
use std::thread;

fn main() {
    let handles: Vec<_> = (0..4u64)
        .map(|id| {
            thread::spawn(move || {
                let mut map: HashMap<String, Vec<u64>> = HashMap::new();
                for i in 0..5000u64 {
                    map.entry(format!("key-{}", i % 100)).or_default().push(i * id);
                }
                map.values().map(|v| v.iter().sum::<u64>()).sum::<u64>()
            })
        })
        .collect();
    for (id, handle) in handles.into_iter().enumerate() {
        println!("thread {}: {}", id, handle.join().unwrap());
    }
}
