import Foundation

/// A private network for an e2e run (root only): one Linux network namespace per node, each
/// with a veth pair whose outer end joins a bridge in the root namespace. The harness, in the
/// root namespace, reaches every node at its address; nodes reach each other over the bridge.
///
/// A link between two nodes is cut by a blackhole route in each of the two namespaces toward
/// the other: packets vanish (TCP sees a silent peer, as in a real partition) and the link
/// heals when the routes go. Partitions, disconnections and flapping links are sets of cuts.
final class NetworkNamespaces {
    /// Names are short: Linux interface names hold at most 15 bytes.
    let prefix: String
    let subnet: UInt8
    let bridge: String
    private(set) var namespaces: [String] = []
    private var cuts: Set<[Int]> = []
    /// The iptables binary that holds this run's FORWARD rule, if one was added.
    private var forwardingRule: String?

    /// `prefix` (≤ 7 characters) names the run's namespaces and links; `subnet` is the second
    /// byte of its 10.x.0.0/16 network.
    init(prefix: String, subnet: UInt8) {
        precondition(prefix.utf8.count <= 7, "namespace prefix too long for interface names")
        self.prefix = prefix
        self.subnet = subnet
        bridge = prefix + "br"
    }

    /// The address of node `index` (10.x.1.index).
    func address(_ index: Int) -> String { "10.\(subnet).1.\(index)" }

    /// Creates the bridge and `count` namespaces; on failure whatever was made is removed.
    func create(count: Int) throws {
        do {
            try Self.ip(["link", "add", bridge, "type", "bridge"])
            try Self.ip(["addr", "add", "10.\(subnet).0.1/16", "dev", bridge])
            try allowForwardingIfFiltered()
            try Self.ip(["link", "set", bridge, "up"])
            for index in 0..<count { try addNamespace(index) }
        } catch {
            remove()
            throw error
        }
    }

    /// Where bridged packets go through iptables (br_netfilter loaded with
    /// bridge-nf-call-iptables = 1, as dockerd leaves it, with a FORWARD policy of DROP), lets
    /// the run's bridge forward between its own ports; `remove` takes the rule out.
    private func allowForwardingIfFiltered() throws {
        let setting = (try? String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-iptables", encoding: .utf8)) ?? "0"
        guard setting.trimmingCharacters(in: .whitespacesAndNewlines) == "1" else { return }
        guard let iptables = ["/usr/sbin/iptables", "/sbin/iptables"].first(where: FileManager.default.isExecutableFile) else {
            throw CommandError("bridged packets go through iptables here (bridge-nf-call-iptables = 1) but there is no iptables to let them pass")
        }
        try Subprocess.run(URL(fileURLWithPath: iptables), forwardRule("-I"))
        forwardingRule = iptables
    }

    private func forwardRule(_ verb: String) -> [String] { [verb, "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"] }

    private func addNamespace(_ index: Int) throws {
        let namespace = "\(prefix)n\(index)"
        let outer = "\(prefix)v\(index)"
        try Self.ip(["netns", "add", namespace])
        namespaces.append(namespace)
        try Self.ip(["link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try Self.ip(["link", "set", outer, "master", bridge, "up"])
        try Self.ip(["-n", namespace, "addr", "add", "\(address(index))/16", "dev", "eth0"])
        try Self.ip(["-n", namespace, "link", "set", "eth0", "up"])
        try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
    }

    /// The command line that runs `arguments` inside node `index`'s namespace.
    func wrap(_ index: Int, _ arguments: [String]) -> [String] { ["/usr/sbin/ip", "netns", "exec", namespaces[index]] + arguments }

    /// Cuts the link between nodes `a` and `b` (both directions).
    func cut(_ a: Int, _ b: Int) throws {
        guard a != b, cuts.insert([min(a, b), max(a, b)]).inserted else { return }
        try Self.ip(["-n", namespaces[a], "route", "add", "blackhole", "\(address(b))/32"])
        try Self.ip(["-n", namespaces[b], "route", "add", "blackhole", "\(address(a))/32"])
    }

    func heal(_ a: Int, _ b: Int) throws {
        guard cuts.remove([min(a, b), max(a, b)]) != nil else { return }
        try Self.ip(["-n", namespaces[a], "route", "del", "blackhole", "\(address(b))/32"])
        try Self.ip(["-n", namespaces[b], "route", "del", "blackhole", "\(address(a))/32"])
    }

    /// Removes every namespace, link and the bridge (errors ignored: it may be half made).
    func remove() {
        for namespace in namespaces { try? Self.ip(["netns", "del", namespace]) }
        namespaces = []
        cuts = []
        try? Self.ip(["link", "del", bridge])
        if let iptables = forwardingRule { try? Subprocess.run(URL(fileURLWithPath: iptables), forwardRule("-D")) }
        forwardingRule = nil
    }

    /// Runs `ip` with `arguments`; throws with its output when it fails.
    static func ip(_ arguments: [String]) throws {
        try Subprocess.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
    }
}
