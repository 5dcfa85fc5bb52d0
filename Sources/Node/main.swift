import Foundation
import Inference

/// Entry point of the `tributary` executable: finds the subcommand, parses its arguments, runs it.
/// Errors become one line on stderr: exit 2 for command-line mistakes, 1 for failures.
///
/// SIGPIPE is ignored: a write to a socket whose peer went away (a peer connection, an HTTP
/// client, a pipe) must fail with EPIPE where it happens, not end the process silently.
///
/// OpenBLAS's kernels are chosen when it loads; on CPUs it does not recognise the process
/// restarts once with them named (`BLASKernels`).
BLASKernels.restartWithNativeKernelsIfNeeded()
signal(SIGPIPE, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
exit(CommandDispatcher(commands: CommandTable.all).run(arguments))
