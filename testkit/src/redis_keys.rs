//! Finding a namespace's keys in a live Redis without blocking it (`SCAN`,
//! never `KEYS`), for tests and benchmarks that inspect or clean up their
//! own queue namespace.

/// Every key matching `pattern`, walking the keyspace with `SCAN`.
///
/// # Errors
/// When Redis fails.
pub async fn scan(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, mut batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.append(&mut batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}
