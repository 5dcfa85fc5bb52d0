import CRocksDB
import Foundation

/// A failure reported by RocksDB.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A RocksDB database with named column families (thin, typed wrapper over RocksDB's C API).
/// RocksDB's handles are thread-safe, and so is this class.
public final class RocksDatabase: @unchecked Sendable {
    private let database: OpaquePointer
    private let options: OpaquePointer
    private let readOptions: OpaquePointer
    private let syncWriteOptions: OpaquePointer
    private let families: [String: OpaquePointer]

    /// Opens the database at `path` with `columnFamilies` (besides RocksDB's own `default`),
    /// creating it when missing if `create` is set. `writeBufferBytes` sizes each memtable
    /// (and so the WAL space RocksDB reserves ahead).
    public init(path: String, columnFamilies: [String], create: Bool = true, writeBufferBytes: Int = 64 << 20) throws(StoreError) {
        let options = rocksdb_options_create()!
        self.options = options
        rocksdb_options_set_create_if_missing(options, create ? 1 : 0)
        rocksdb_options_set_create_missing_column_families(options, 1)
        rocksdb_options_set_paranoid_checks(options, 1)
        // Point-in-time WAL recovery: after a crash, replay up to the first torn record.
        rocksdb_options_set_wal_recovery_mode(options, 2)
        rocksdb_options_increase_parallelism(options, 2)
        rocksdb_options_set_write_buffer_size(options, writeBufferBytes)

        let names = ["default"] + columnFamilies
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        var error: UnsafeMutablePointer<CChar>?
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let familyOptions = [OpaquePointer?](repeating: options, count: names.count)
        let opened = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
            rocksdb_open_column_families(
                options, path, Int32(names.count), namePointers.baseAddress, familyOptions, &handles, &error)
        }
        if let error {
            defer { rocksdb_free(error) }
            rocksdb_options_destroy(options)
            throw StoreError("cannot open store at \(path): \(String(cString: error))")
        }
        database = opened!
        families = Dictionary(uniqueKeysWithValues: zip(names, handles.map { $0! }))
        readOptions = rocksdb_readoptions_create()
        rocksdb_readoptions_set_verify_checksums(readOptions, 1)
        syncWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWriteOptions, 1)
    }

    deinit {
        for handle in families.values { rocksdb_column_family_handle_destroy(handle) }
        rocksdb_close(database)
        rocksdb_writeoptions_destroy(syncWriteOptions)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_options_destroy(options)
    }

    private func family(_ name: String) -> OpaquePointer {
        guard let handle = families[name] else { preconditionFailure("unknown column family \(name)") }
        return handle
    }

    /// The value under `key` in `family`, or nil.
    public func get(_ family: String, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let value = key.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) {
                rocksdb_get_cf(database, readOptions, self.family(family), $0.baseAddress, $0.count, &length, &error)
            }
        }
        if let error {
            defer { rocksdb_free(error) }
            throw StoreError("read failed: \(String(cString: error))")
        }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// Applies `batch` atomically, synced to disk before returning.
    public func write(_ batch: WriteBatch) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(database, syncWriteOptions, batch.handle, &error)
        if let error {
            defer { rocksdb_free(error) }
            throw StoreError("write failed: \(String(cString: error))")
        }
    }

    /// Visits the entries of `family` whose keys start with `prefix`, in key order, until
    /// `body` returns false; from the first key at or after `start` when given (which must
    /// start with `prefix`).
    public func scan(_ family: String, prefix: [UInt8], from start: [UInt8]? = nil, _ body: ([UInt8], [UInt8]) throws -> Bool) rethrows {
        precondition(start?.starts(with: prefix) ?? true, "a scan's start key must carry its prefix")
        let iterator = rocksdb_create_iterator_cf(database, readOptions, self.family(family))!
        defer { rocksdb_iter_destroy(iterator) }
        (start ?? prefix).withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek(iterator, $0.baseAddress, $0.count) }
        }
        while rocksdb_iter_valid(iterator) != 0 {
            var keyLength = 0
            var valueLength = 0
            let key = Array(UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &keyLength), count: keyLength))
            guard key.starts(with: prefix) else { return }
            let value = Array(UnsafeRawBufferPointer(start: rocksdb_iter_value(iterator, &valueLength), count: valueLength))
            guard try body(key, value) else { return }
            rocksdb_iter_next(iterator)
        }
        Self.checkIterator(iterator)
    }

    /// An iterator that stopped on an I/O or checksum error would look like the end of the
    /// data; a partial scan must never pass for a whole one, so the process stops instead.
    private static func checkIterator(_ iterator: OpaquePointer) {
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(iterator, &error)
        if let error { fatalError("store iteration failed: \(String(cString: error))") }
    }

    /// The entry of `family` with the greatest key not above `key`, or nil.
    public func lastEntry(_ family: String, atOrBefore key: [UInt8]) -> (key: [UInt8], value: [UInt8])? {
        let iterator = rocksdb_create_iterator_cf(database, readOptions, self.family(family))!
        defer { rocksdb_iter_destroy(iterator) }
        key.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek_for_prev(iterator, $0.baseAddress, $0.count) }
        }
        guard rocksdb_iter_valid(iterator) != 0 else {
            Self.checkIterator(iterator)
            return nil
        }
        var keyLength = 0
        var valueLength = 0
        let foundKey = Array(UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &keyLength), count: keyLength))
        let value = Array(UnsafeRawBufferPointer(start: rocksdb_iter_value(iterator, &valueLength), count: valueLength))
        return (foundKey, value)
    }

    /// A batch of writes to apply atomically with `write(_:)`.
    public final class WriteBatch {
        fileprivate let handle: OpaquePointer
        private let database: RocksDatabase

        public init(for database: RocksDatabase) {
            self.database = database
            handle = rocksdb_writebatch_create()
        }

        deinit { rocksdb_writebatch_destroy(handle) }

        public func put(_ family: String, _ key: [UInt8], _ value: [UInt8]) {
            key.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in
                    k.withMemoryRebound(to: CChar.self) { kc in
                        v.withMemoryRebound(to: CChar.self) { vc in
                            rocksdb_writebatch_put_cf(handle, database.family(family), kc.baseAddress, kc.count, vc.baseAddress, vc.count)
                        }
                    }
                }
            }
        }

        public func delete(_ family: String, _ key: [UInt8]) {
            key.withUnsafeBufferPointer { k in
                k.withMemoryRebound(to: CChar.self) {
                    rocksdb_writebatch_delete_cf(handle, database.family(family), $0.baseAddress, $0.count)
                }
            }
        }
    }
}
