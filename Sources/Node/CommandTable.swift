/// Every `tributary` subcommand. Each command lives in its own file under `Commands/` and
/// exposes a `static let spec` (or a list); add new ones here.
enum CommandTable {
    static let all: [CommandSpec] = [
        KeysCommands.new,
        KeysCommands.show,
        InitCommand.spec,
        StartCommand.spec,
        TestnetCommand.spec,
        ReplayCommand.spec,
        BenchLedgerCommand.spec,
        BenchNetworkCommand.spec,
        BenchSyncCommand.spec,
        E2ECommand.spec,
        SimCommand.spec,
        ModelCommands.fetch,
        GenerateCommand.spec,
        ChatCommand.spec,
        BenchInferenceCommand.spec,
        BenchLoraCommand.spec,
        TrainCommand.spec,
        BenchTrainCommand.spec,
        BenchAttributionCommand.spec,
        BenchX402Command.spec,
        AttributeCommand.attribute,
        AttributeCommand.index,
    ] + TxCommands.all + QueryCommands.all + AdapterCommands.all + DatanetCommands.all + X402Commands.all
}
