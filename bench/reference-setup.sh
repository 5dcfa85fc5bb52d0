# Sourced by the scripts that check tributary against PyTorch + PEFT (train-reference.sh,
# datainf-reference.sh): from the repository root, installs the venv (bench/torch-venv.sh),
# builds, fetches the default model, and sets `python`, `tributary` and `model` (its GGUF path).
python=$(bench/torch-venv.sh)
swift build -c release
tributary=.build/release/tributary
$tributary model fetch >&2
model=$($tributary model fetch | sed -n 's/^model \(already present and verified\|ready\): \(.*\.gguf\).*/\2/p')
