"""Fill studio_zh_CN.ts with the Simplified Chinese strings below, then compile it:

    pyside6-lupdate studio/*.py studio/widgets/*.py -ts assets/translations/studio_zh_CN.ts
    python assets/translations/fill_zh_CN.py
    pyside6-lrelease assets/translations/studio_zh_CN.ts -qm assets/translations/studio_zh_CN.qm
"""

import xml.etree.ElementTree as ET
from pathlib import Path

ZH = {
    "&Edit": "编辑(&E)", "&File": "文件(&F)", "&New…": "新建(&N)…", "&Open…": "打开(&O)…", "&Quit": "退出(&Q)",
    "&Redo": "重做(&R)", "&Undo": "撤销(&U)", "&View": "视图(&V)", ".gguf…": ".gguf…",
    "A built-in name, a model folder, a .gguf file or a cached hub id": "内置名称、模型文件夹、.gguf 文件或已缓存的 Hub ID",
    "Building the skeleton of {0}…": "正在构建 {0} 的骨架…", "Cannot open project": "无法打开项目",
    "Choose a dataset": "选择数据集", "Choose file…": "选择文件…", "Class": "类", "Data": "数据",
    "Filter: name or regex (F)": "筛选：名称或正则表达式 (F)", "Focus the tree filter": "聚焦到模块树筛选框",
    "Folder…": "文件夹…", "Layers:": "层：", "Loading {0}…": "正在加载 {0}…", "Method": "方法",
    "Model file": "模型文件", "Model folder": "模型文件夹", "Model:": "模型：", "Module": "模块",
    "New project": "新建项目", "Only this block": "仅此块", "Open a .gguf model file": "打开 .gguf 模型文件",
    "Open a Hugging Face model folder (config.json + *.safetensors)": "打开 Hugging Face 模型文件夹（config.json + *.safetensors）",
    "Open project": "打开项目", "Parameters": "参数", "Params": "参数量", "Preview": "预览",
    "Recent projects": "最近的项目", "Save &As…": "另存为(&A)…", "Save project as": "项目另存为", "Shape": "形状",
    "Starting…": "正在启动…", "Targets:": "目标：", "The methods could not be loaded: {0}": "无法加载方法：{0}",
    "Training": "训练", "Training memory (estimate)": "训练内存（估算）",
    "adaption prompt adapts this attention module": "adaption prompt 会适配此注意力模块", "all": "全部",
    "all layers": "所有层", "batch size": "批大小", "block": "块", "dtype": "数据类型", "examples": "样本数",
    "format: {0} · {1} examples": "格式：{0} · {1} 个样本", "from": "从", "loading methods…": "正在加载方法…",
    "sequence length": "序列长度", "target_modules: names (q_proj, v_proj) or a regex": "target_modules：名称（q_proj, v_proj）或正则表达式",
    "to": "到", "tokens per example": "每个样本的 token 数", "total": "总计", "trainable": "可训练",
    "trainable %": "可训练 %", "{0}: ticked in all {1} blocks.": "{0}：已在全部 {1} 个块中勾选。",
    "{0}: {1:,} parameters": "{0}：{1:,} 个参数", "Language": "语言", "System": "跟随系统",
    "The language changes the next time Adapter Studio starts.": "语言将在下次启动 Adapter Studio 时更改。",
    "&Save": "保存(&S)", "Read-only: {0}": "只读：{0}",
    "Saved — the project saves itself as you edit.": "已保存——项目会在编辑时自动保存。",
    "Untick {0}": "取消勾选 {0}", "Tick in all {0} blocks": "在全部 {0} 个块中勾选",
    "Tick only in block {0}": "仅在第 {0} 块中勾选", "Tick only in block": "仅在某一块中勾选", "Tick {0}": "勾选 {0}",
}

# Part 2 of the studio (training, runs, playground, export, launch dialog) and the data tab's picker.
ZH.update({
    " The adapter did not change this answer.": " 适配器没有改变这个回答。",
    "&Continue": "继续(&C)", "&Export…": "导出(&E)…", "&Pause": "暂停(&P)", "&Resume selected run": "恢复所选运行(&R)",
    "&Run": "运行(&R)", "&Stop": "停止(&S)", "&Train": "训练(&T)", "(+{0} under 1 %)": "（另有 {0} 项低于 1 %）",
    "(none found)": "（未找到）", "<b>Base model</b>": "<b>基础模型</b>", "<b>With the adapter</b>": "<b>加上适配器</b>",
    "A run is training": "有运行正在训练", "A run is training; stop it first.": "有运行正在训练；请先停止它。",
    "Adapter only (PEFT's layout: adapter_config.json + safetensors)": "仅适配器（PEFT 布局：adapter_config.json + safetensors）",
    "Adapter:": "适配器：",
    "After a LoRA-family run: the size of each module's learned update, per block.": "LoRA 系列运行之后：每个模块学到的更新量大小，按块显示。",
    "Any checkpoint of any run of this project": "本项目任意运行的任意检查点", "Browse…": "浏览…",
    "CPU (one process)": "CPU（单进程）", "Cannot train": "无法训练", "Chat mode": "对话模式", "Checkpoint": "检查点",
    "Checkpoint and stop the run (Esc)": "写入检查点并停止运行 (Esc)", "Checkpoint:": "检查点：",
    "Coloured {0} tree rows by where the adaptation went.": "已按适配的位置为 {0} 行模块树着色。", "Command:": "命令：",
    "Could not write {0}: {1}": "无法写入 {0}：{1}",
    "DDP when the model fits on one GPU (fastest); FSDP for a model too big for one.": "模型能放进单个 GPU 时用 DDP（最快）；单个 GPU 放不下时用 FSDP。",
    "Data parallel (DDP): each GPU holds the whole model": "数据并行 (DDP)：每个 GPU 保存完整模型", "Dataset": "数据集",
    "Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)": "数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)",
    "Device:": "设备：", "Done.": "完成。", "Export": "导出", "Export run {0}": "导出运行 {0}", "Export to folder": "导出到文件夹",
    "Exports": "导出", "Exports of this project (verified against the adapter model)": "本项目的导出（已与适配器模型比对验证）",
    "Folder": "文件夹",
    "From the Training tab's mixed_precision ('auto': bf16 where every chosen GPU has it, else fp16).": "取自“训练”页的 mixed_precision（'auto'：所选 GPU 都支持时用 bf16，否则用 fp16）。",
    "GPUs found:": "找到的 GPU：", "Generate": "生成",
    "It is paused: kept in the background it stays paused until you reopen the project and continue it.": "它已暂停：在后台保留时会一直暂停，直到你重新打开项目并继续它。",
    "Keep it running in the background": "在后台继续运行", "Loading {0} with {1}…": "正在加载 {0} 和 {1}…",
    "Looking for GPUs…": "正在查找 GPU…", "Merged model (a plain Hugging Face model folder)": "合并后的模型（普通的 Hugging Face 模型文件夹）",
    "Mixed precision:": "混合精度：", "No checkpoint yet: train a run first.": "还没有检查点：请先训练一次。",
    "No run yet — press Train (Ctrl+Enter).": "还没有运行——按“训练”(Ctrl+Enter)。",
    "One process: Start trains with the bundle's own worker (no accelerate launch).": "单进程：“开始”用安装包自带的工作进程训练（不经 accelerate launch）。",
    "Parallelism:": "并行方式：",
    "Pause the run after its current step, keeping its memory and place; Continue goes on (Ctrl+P)": "在当前步之后暂停运行，保留其内存和进度；“继续”接着训练 (Ctrl+P)",
    "Playground": "试用", "Port:": "端口：", "Processes (GPUs):": "进程数（GPU）：",
    "Processes, one per GPU: each holds the whole model and trains on its share of every batch (data parallel); gradients are averaged.": "每个 GPU 一个进程：每个进程保存完整模型，训练每个批次中属于自己的部分（数据并行）；梯度取平均。",
    "Resume from last checkpoint": "从最近的检查点恢复",
    "Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? Reopening the project shows it again.": "运行 {0} 正在训练。停止它（会写入检查点），还是让它在后台继续运行？重新打开项目时会再次显示它。",
    "Runs": "运行", "Save &plot…": "保存图表(&P)…", "Save accelerate config": "保存 accelerate 配置", "Save config…": "保存配置…",
    "Save launch script": "保存启动脚本", "Save launch script…": "保存启动脚本…", "Save plot": "保存图表", "Save plot…": "保存图表…",
    "Save the curves as PNG or SVG": "将曲线保存为 PNG 或 SVG", "Saved the {0}: {1}": "已保存{0}：{1}", "Saved {0}": "已保存 {0}",
    "Select two runs to compare their settings; several to overlay their curves.": "选择两个运行可比较设置；选择多个可叠加曲线。",
    "Sharded (FSDP2): the model's weights are split across the GPUs": "分片 (FSDP2)：模型权重分布在各个 GPU 上",
    "Shell script (*.sh)": "Shell 脚本 (*.sh)", "Show where the adaptation went": "显示适配发生在哪里", "Start": "开始",
    "Start a training run in a worker process (Ctrl+Enter)": "在工作进程中开始一次训练 (Ctrl+Enter)",
    "Start {0} and writes the config and a launch script beside its checkpoints ({1}, {2}).": "“开始”会{0}，并在其检查点旁写入配置和启动脚本（{1}、{2}）。",
    "Stop": "停止", "Stop run {0}? It writes a checkpoint first; Resume continues it.": "停止运行 {0}？会先写入检查点；“恢复”可继续。",
    "Stop the run": "停止运行", "Stop training": "停止训练", "The column with the answer to learn": "包含要学习的回答的列",
    "The column with the list of {role, content} messages": "包含 {role, content} 消息列表的列",
    "The column with the prompt (the context, not trained on)": "包含提示的列（作为上下文，不参与训练）",
    "The column with the raw text": "包含原始文本的列",
    "The command Start runs (CONFIG: the config, written beside the run's checkpoints)": "“开始”执行的命令（CONFIG：配置文件，写在该运行的检查点旁）",
    "The peak of the tensors alive in one training step (core.estimate):\nweights: the base model in the chosen dtype\nadapter, gradients, optimizer: the trainable parameters, their gradients and AdamW's two moments (float32)\nactivations: what autograd keeps for backward, traced through the adapted model\nworkspace: temporaries at the peak, the gradients of the largest kept tensor (usually the logits)\nThe training process itself needs more: Python and torch, and the allocator's slack.":
        "一个训练步中同时存在的张量的峰值（core.estimate）：\n权重：所选数据类型下的基础模型\n适配器、梯度、优化器：可训练参数、它们的梯度以及 AdamW 的两个动量（float32）\n激活：autograd 为反向传播保留的内容，通过适配后的模型追踪得到\n工作区：峰值时的临时张量，即最大保留张量的梯度（通常是 logits）\n训练进程本身还需要更多：Python 和 torch，以及内存分配器的余量。",
    "The port the processes meet on; two runs at once on one machine need two ports.": "各进程会合的端口；同一台机器上同时运行两个任务需要两个端口。",
    "The run is paused (its memory and place are kept); go on training (Ctrl+P)": "运行已暂停（保留其内存和进度）；继续训练 (Ctrl+P)",
    "The worker's log appears here.": "工作进程的日志显示在这里。",
    "This run has no checkpoint yet; train (or resume) it first.": "此运行还没有检查点；请先训练（或恢复）它。",
    "Train on several GPUs": "在多个 GPU 上训练", "Train through accelerate launch": "通过 accelerate launch 训练",
    "Type a prompt; Generate runs the base model and the adapter side by side.": "输入提示；“生成”会并排运行基础模型和适配器。",
    "Where it adapted": "适配位置", "Wrap the prompt in the tokenizer's chat template": "用分词器的对话模板包装提示",
    "Write a bash script that does this launch, to run in a terminal or as a cluster job (srun / sbatch; see its comments)": "写出执行此启动的 bash 脚本，可在终端中运行或作为集群作业（srun / sbatch；见脚本注释）",
    "Write this accelerate config as a YAML file": "将此 accelerate 配置写为 YAML 文件",
    "Writing {0}, then reloading it and comparing logits with the adapter model…": "正在写入{0}，然后重新加载并与适配器模型比较 logits…",
    "YAML (*.yaml *.yml)": "YAML (*.yaml *.yml)",
    "a .jsonl, .json, .csv or .parquet file, a save_to_disk folder, or a cached hub id": ".jsonl、.json、.csv 或 .parquet 文件，save_to_disk 文件夹，或已缓存的 Hub ID",
    "a merged model": "合并后的模型", "accelerate config": "accelerate 配置", "accelerate config:": "accelerate 配置：",
    "activations": "激活", "adapter": "适配器",
    "after step {0}; Continue (Ctrl+P) goes on, Stop writes a checkpoint": "在第 {0} 步之后；“继续”(Ctrl+P) 接着训练，“停止”会写入检查点",
    "alpaca layout: instruction (+ input) is the prompt, output the completion. Pick columns above to use others.": "alpaca 布局：instruction（+ input）为提示，output 为补全。在上方选择列可改用其他列。",
    "alpaca: instruction + input": "alpaca：instruction + input", "alpaca: output": "alpaca：output",
    "auto: told from the columns; or say which layout the records have": "auto：根据列判断；或指定记录的布局",
    "completion": "补全", "creates a new run": "创建一个新运行", "detected: {0}": "检测到：{0}", "file": "文件", "final": "最终",
    "format": "格式", "gradients": "梯度", "launch script": "启动脚本", "max new tokens ": "最大新 token 数 ",
    "messages": "消息", "no format fits: pick the columns": "没有合适的格式：请选择列", "no run": "无运行",
    "none (fp32)": "无 (fp32)", "optimizer": "优化器", "paused": "已暂停", "prompt": "提示", "queued": "排队中",
    "resumes run {0}": "恢复运行 {0}", "starting the worker…": "正在启动工作进程…", "stopping…": "正在停止…", "text": "文本",
    "the adapter": "适配器", "weights": "权重", "workspace": "工作区", "{0} (not in the file)": "{0}（不在文件中）",
    "‖ Pause": "‖ 暂停", "‖ Pausing…": "‖ 正在暂停…", "‖ paused": "‖ 已暂停", "■ Stop": "■ 停止", "■ stopped": "■ 已停止",
    "▶ Continue": "▶ 继续", "▶ Continuing…": "▶ 正在继续…", "▶ Train": "▶ 训练", "● running": "● 运行中",
    "✓ completed": "✓ 已完成", "✗ crashed / interrupted": "✗ 崩溃 / 中断", "✗ failed": "✗ 失败",
    "run": "运行", "status": "状态", "method": "方法", "steps": "步数", "loss": "损失", "eval loss": "评估损失",
    "best eval": "最佳评估", "duration": "时长",
})

# Help menu, About, F1; one project, one writer (the read-only banner); the engine's messages
# (studio/messages.py) and the tree's flags.
ZH.update({
    "&Help": "帮助(&H)", "&Documentation": "文档(&D)", "&About Adapter Studio": "关于 Adapter Studio(&A)",
    "About Adapter Studio": "关于 Adapter Studio", "The studio": "工作室界面", "Models": "模型",
    "The adapter engine": "适配器引擎", "The project file": "项目文件",
    "the docs/ folder of Adapter Studio's source (this installation has no copy)": "Adapter Studio 源代码中的 docs/ 文件夹（此安装中没有副本）",
    "Parameter-efficient fine-tuning of language models on the desktop.": "在桌面上对语言模型进行参数高效微调。",
    "Licence: {0}": "许可证：{0}", "Documentation: {0}": "文档：{0}",
    "Press F1 anywhere in the window for the part of the docs about it.": "在窗口任意位置按 F1，即可打开与该处相关的文档章节。",
    "No documentation folder in this installation: see the docs/ folder of Adapter Studio's source.": "此安装中没有文档文件夹：请查看 Adapter Studio 源代码中的 docs/ 文件夹。",
    "Opened {0}": "已打开 {0}",
    "Show that window": "显示那个窗口", "Try again": "重试",
    "Open the project for editing if no other window has it open any more": "若已没有其他窗口打开此项目，则以可编辑方式重新打开",
    "another window of Adapter Studio has this project open; only that window can change it.": "Adapter Studio 的另一个窗口已打开此项目；只有那个窗口可以修改它。",
    "the project's lock file cannot be written ({0}).": "无法写入项目的锁文件（{0}）。",
    "Adapter Studio (process {0} on {1}, since {2}) has this project open; only that window can change it.": "Adapter Studio（{1} 上的进程 {0}，自 {2} 起）已打开此项目；只有那个窗口可以修改它。",
    "run {0}: {1}": "运行 {0}：{1}",
    "no model": "没有模型", "{0} does not target modules of the tree.": "{0} 不以模块树中的模块为目标。",
    "'{0}' matches no module (closest: {1})": "'{0}' 不匹配任何模块（最接近：{1}）", "'{0}' matches no module": "'{0}' 不匹配任何模块",
    "{0} cannot adapt {1}: {2}": "{0} 无法适配 {1}：{2}",
    "layers_to_transform only works with a name list, not a regex": "layers_to_transform 只能与名称列表一起使用，不能与正则表达式一起使用",
    "these targets select no module": "这些目标没有选中任何模块",
    # studio/messages.py: the engine's messages
    "{path} is not a Hugging Face model folder: it has no config.json. Choose the folder that holds config.json and the *.safetensors weights, a .gguf file, a hub id in the local cache or a built-in name.": "{path} 不是 Hugging Face 模型文件夹：其中没有 config.json。请选择包含 config.json 和 *.safetensors 权重的文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称。",
    "The hub id '{id}' is not in the local Hugging Face cache. Download it first with the Hub… button (or `adapter-studio pull {id}`). Without network here, run that or `hf download {id}` on a machine with network and copy the cache over.": "Hub ID '{id}' 不在本地 Hugging Face 缓存中。请先用“Hub…”按钮（或 `adapter-studio pull {id}`）下载它。若此处没有网络，请在联网的机器上运行该命令或 `hf download {id}`，再把缓存复制过来。",
    "Unknown model reference '{ref}'. Choose a model folder, a .gguf file, a hub id in the local cache or a built-in name (smollm2-135m-instruct, bloomz-560m, tiny-bloom, tiny-llama, tiny-gpt2).": "未知的模型引用 '{ref}'。请选择模型文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称（smollm2-135m-instruct、bloomz-560m、tiny-bloom、tiny-llama、tiny-gpt2）。",
    "There is no file or folder at {path}. Check the path.": "{path} 处没有文件或文件夹。请检查路径。",
    "The model reference is empty: choose a model.": "模型引用为空：请选择一个模型。",
    "{file}, line {line}, column {col}: not valid JSON.": "{file}，第 {line} 行第 {col} 列：不是有效的 JSON。",
    "{file}, line {line}: not valid JSON.": "{file}，第 {line} 行：不是有效的 JSON。",
    "target_modules entry '{name}' matches no module of this model. Closest real names: {close}.": "target_modules 中的 '{name}' 不匹配此模型的任何模块。最接近的实际名称：{close}。",
    "{field} must be a whole number ≥ {min}, got {got}.": "{field} 必须是 ≥ {min} 的整数，当前为 {got}。",
    "{field} must be in {range}, not {got}.": "{field} 必须在 {range} 之内，当前为 {got}。",
    "{field} must be positive, not {got}.": "{field} 必须为正数，当前为 {got}。",
    "{field} must be a number, not {got}.": "{field} 必须是数字，当前为 {got}。",
    "{field}: not valid JSON.": "{field}：不是有效的 JSON。",
    "Set max_steps ≥ 1 or num_epochs > 0.": "请设置 max_steps ≥ 1 或 num_epochs > 0。",
    "not a valid regular expression: {why}": "不是有效的正则表达式：{why}",
    "{method} adapts {kinds} layers, not {cls}.": "{method} 只能适配 {kinds} 层，不能适配 {cls}。",
    "Adaption prompt adapts whole attention modules of Llama, Mistral, GPT-2 and Bloom blocks.": "Adaption prompt 适配 Llama、Mistral、GPT-2 和 Bloom 块中的整个注意力模块。",
    "{method} adds virtual tokens in front of the input; it does not adapt individual modules.": "{method} 在输入前添加虚拟 token；它不适配单个模块。",
    "Prefix tuning adds learned keys and values to every attention layer; it does not adapt individual modules.": "Prefix tuning 为每个注意力层添加学习到的键和值；它不适配单个模块。",
    "Prompt tuning learns virtual tokens in front of the input; it adapts no module.": "Prompt tuning 学习输入前的虚拟 token；它不适配任何模块。",
    "P-tuning learns virtual tokens (through a small prompt encoder); it adapts no module.": "P-tuning（通过一个小型提示编码器）学习虚拟 token；它不适配任何模块。",
    "Prefix tuning learns key/value prefixes for every attention layer; it adapts no module.": "Prefix tuning 为每个注意力层学习键/值前缀；它不适配任何模块。",
    "Adaption prompt adds gated prompts to the top attention layers; it adapts no module.": "Adaption prompt 为顶部的注意力层添加门控提示；它不适配任何模块。",
    "{method} does not adapt individual modules.": "{method} 不适配单个模块。",
    "Training failed at step {step}: {rest}": "训练在第 {step} 步失败：{rest}", "Training failed: {rest}": "训练失败：{rest}",
    "The model could not be loaded: {rest}": "无法加载模型：{rest}", "The dataset cannot be used: {rest}": "无法使用数据集：{rest}",
    "The run's settings are not valid: {rest}": "运行的设置无效：{rest}", "Training could not start: {rest}": "训练无法开始：{rest}",
    "The model could not be loaded.": "无法加载模型。", "The dataset cannot be used.": "无法使用数据集。",
    "A setting is not valid.": "某项设置无效。", "The project file cannot be used.": "无法使用项目文件。",
    "The export failed.": "导出失败。", "Out of memory.": "内存不足。", "Something went wrong.": "出错了。",
    "The loss is no longer a number.": "损失已不再是有限数值。", "This cannot be done now.": "现在无法执行此操作。",
    "The training process ended without a word.": "训练进程未留下任何说明就结束了。",
    "Lower the batch size or max_length, or turn on gradient checkpointing, then Resume or train again.": "请减小批大小或 max_length，或打开梯度检查点，然后恢复或重新训练。",
    "Lower the learning rate (or use more warm-up steps), then train again.": "请降低学习率（或使用更多预热步数），然后重新训练。",
    "Fix the dataset (the Data tab's Preview shows the problem), then train again.": "请修正数据集（“数据”页的预览会显示问题），然后重新训练。",
    "Change the setting named above, then train again.": "请修改上面提到的设置，然后重新训练。",
    "Check the model reference (folder, .gguf file, built-in name), then train again.": "请检查模型引用（文件夹、.gguf 文件、内置名称），然后重新训练。",
    "See the log below for details; Resume continues from the last checkpoint if there is one.": "详情见下方日志；若有检查点，“恢复”会从最近的检查点继续。",
    ", ": "、",
    # the tree's status line and the other-architecture offer (problem 3); kept here until their own block lands
    "{0} · {1} · {2} parameters": "{0} · {1} · {2} 个参数",
    "architecture only: no weights (inspect and estimate; it cannot be trained — open a folder of the real model to train it)": "仅架构：没有权重（可查看和估算；不能训练——请打开真实模型的文件夹来训练）",
    "Use {0} (the same modules in this model)": "使用 {0}（此模型中的相同模块）",
    "The targets name modules of another architecture; these have the same roles (attention query/key/value/output, MLP) here.": "这些目标是另一种架构的模块名；此处这些模块承担相同的角色（注意力的 query/key/value/output、MLP）。",
})

# The settings' field help (tooltips), studio/field_help.py.
ZH.update({
    "At each evaluation, answer this many validation prompts greedily and score them against their references (exact match, contains, F1, ROUGE-L); 0 = off.": "每次评估时，用贪心解码回答这么多条验证提示，并与参考答案比较打分（完全匹配、包含、F1、ROUGE-L）；0 = 关闭。",
    "Longest answer generated for each evaluation prompt, in tokens.": "每条评估提示生成的回答的最大长度（token 数）。",
    "What the model is for, e.g. CAUSAL_LM.": "模型的用途，例如 CAUSAL_LM。",
    "The base model this adapter belongs to.": "此适配器所属的基础模型。",
    "Revision of the base model.": "基础模型的版本（revision）。",
    "Loaded for inference only (adapter frozen).": "仅用于推理加载（适配器冻结）。",
    "Rank of the update matrices; more rank, more capacity and parameters.": "更新矩阵的秩；秩越大，容量和参数越多。",
    "Scale numerator: the update is multiplied by alpha / r.": "缩放分子：更新乘以 alpha / r。",
    "Dropout on the adapter's input during training, in [0, 1).": "训练时作用于适配器输入的 dropout，取值范围 [0, 1)。",
    "Modules to adapt: a list of names or name suffixes, a full-match regex, or 'all-linear'.": "要适配的模块：名称或名称后缀的列表、完整匹配的正则表达式，或 'all-linear'。",
    "Modules never adapted (wins over targets).": "永不适配的模块（优先于目标）。",
    "Only these block indices.": "仅这些块的编号。",
    "Name of the block list (e.g. 'layers', 'h') that layers_to_transform indexes.": "layers_to_transform 所索引的块列表名称（例如 'layers'、'h'）。",
    "Also train biases: 'none', 'all', or 'lora_only'.": "同时训练偏置：'none'、'all' 或 'lora_only'。",
    "Modules trained in full and saved with the adapter (e.g. a new head).": "完整训练并随适配器一起保存的模块（例如新的输出头）。",
    "The layer stores its weight as (in, out), like GPT-2's Conv1D.": "该层以 (in, out) 形式存储权重，如 GPT-2 的 Conv1D。",
    "Scale by alpha / sqrt(r) (rank-stabilised LoRA).": "按 alpha / sqrt(r) 缩放（秩稳定的 LoRA）。",
    "Weight-decomposed LoRA: also learn a per-output magnitude.": "权重分解的 LoRA：额外学习每个输出的幅度。",
    "True: A random, B zero. 'gaussian': A normal(1/r). 'pissa': from the weight's SVD. False: both random.": "True：A 随机、B 为零。'gaussian'：A 服从 normal(1/r)。'pissa'：来自权重的 SVD。False：两者都随机。",
    "Per-module rank overrides, name/regex -> r.": "按模块覆盖秩，名称/正则表达式 -> r。",
    "Per-module alpha overrides.": "按模块覆盖 alpha。",
    "Give lora_B a trainable bias (out,), scaled like the update; merging adds it to the layer's bias.": "给 lora_B 加一个可训练的偏置 (out,)，与更新同样缩放；合并时加到该层的偏置上。",
    "Token ids whose rows of the input embedding train (e.g. newly added tokens), or per embedding module: its name mapped to a list of ids.": "要训练其输入嵌入行的 token id（例如新加入的 token），或按嵌入模块给出：模块名对应一个 id 列表。",
    "Parameters to adapt by name or name suffix, e.g. 'experts.gate_up_proj' and 'experts.down_proj' for the experts of a MoE model (one update per expert).": "按名称或名称后缀指定要适配的参数，例如 MoE 模型专家的 'experts.gate_up_proj' 和 'experts.down_proj'（每个专家一个更新）。",
    "How many virtual tokens to learn (≥ 1).": "要学习的虚拟 token 数量（≥ 1）。",
    "Width of one virtual token; filled in from the model (hidden size).": "单个虚拟 token 的宽度；根据模型填入（隐藏层大小）。",
    "1 for decoder-only models (PEFT: 2 for encoder-decoder); filled in.": "仅解码器模型为 1（PEFT：编码器-解码器为 2）；自动填入。",
    "Attention heads; filled in from the model.": "注意力头数；根据模型填入。",
    "Transformer blocks; filled in from the model.": "Transformer 块数；根据模型填入。",
    "RANDOM (normal noise), SAMPLE_VOCAB (embeddings of random tokens) or TEXT (of a given text).": "RANDOM（正态噪声）、SAMPLE_VOCAB（随机 token 的嵌入）或 TEXT（给定文本的嵌入）。",
    "The text whose token embeddings start the prompt (TEXT).": "用其 token 嵌入来初始化提示的文本（TEXT）。",
    "Tokenizer (folder or hub id) that splits prompt_tuning_init_text (TEXT).": "用于切分 prompt_tuning_init_text 的分词器（文件夹或 Hub ID）（TEXT）。",
    "Extra arguments for loading that tokenizer.": "加载该分词器的额外参数。",
    "The encoder that produces the virtual tokens: MLP (recommended) or LSTM.": "生成虚拟 token 的编码器：MLP（推荐）或 LSTM。",
    "Hidden width h of the encoder; empty means the model's hidden size.": "编码器的隐藏宽度 h；留空表示使用模型的隐藏层大小。",
    "LSTM layers (the MLP always has three Linear layers).": "LSTM 层数（MLP 总是包含三个 Linear 层）。",
    "Dropout between LSTM layers, in [0, 1).": "LSTM 层之间的 dropout，取值范围 [0, 1)。",
    "Hidden width h of the projection MLP; empty means token_dim.": "投影 MLP 的隐藏宽度 h；留空表示 token_dim。",
    "Produce the prefixes with a two-layer MLP (more parameters, steadier training).": "用两层 MLP 生成前缀（参数更多，训练更稳定）。",
    "None: random prefixes. 'zero': all-zero prefixes (or a zero last MLP layer).": "None：随机前缀。'zero'：全零前缀（或最后一层 MLP 为零）。",
    "Name of the attention modules in each block; filled in from the architecture.": "每个块中注意力模块的名称；根据架构填入。",
    "Learned prompt tokens per adapted layer (e.g. 10).": "每个被适配层学习的提示 token 数（例如 10）。",
    "How many of the top layers get a prompt (e.g. 8).": "顶部有多少层获得提示（例如 8）。",
    "Rank every adapted module starts with (r is ignored).": "每个被适配模块的初始秩（忽略 r）。",
    "Average rank per module at the end: the budget is target_r × modules.": "结束时每个模块的平均秩：预算为 target_r × 模块数。",
    "Warm-up optimizer steps before any rank is pruned.": "在剪枝任何秩之前的预热优化步数。",
    "Final optimizer steps trained with the rank pattern fixed.": "在秩模式固定后训练的最后优化步数。",
    "Re-allocate the ranks every deltaT steps during the budget phase.": "在预算阶段每 deltaT 步重新分配一次秩。",
    "Moving-average factor of the sensitivity, in (0, 1).": "敏感度的滑动平均系数，取值范围 (0, 1)。",
    "Moving-average factor of the uncertainty, in (0, 1).": "不确定度的滑动平均系数，取值范围 (0, 1)。",
    "Weight of the orthogonality penalty added to the training loss (≥ 0).": "加到训练损失上的正交惩罚权重（≥ 0）。",
    "Number of optimizer steps of the whole run (required; > tinit + tfinal).": "整个运行的优化步数（必填；> tinit + tfinal）。",
    "Kept triplets per module ('<path>.lora_E' -> init_r booleans); written by training.": "每个模块保留的三元组（'<path>.lora_E' -> init_r 个布尔值）；由训练写入。",
    "Unused by AdaLoRA (init_r sets the rank); kept for PEFT's file format.": "AdaLoRA 不使用（秩由 init_r 决定）；为兼容 PEFT 的文件格式而保留。",
    "Scale numerator: the update is multiplied by alpha / init_r.": "缩放分子：更新乘以 alpha / init_r。",
    "True: E zero, A and B normal(0, 0.02) (starts equal to the base). False: all random.": "True：E 为零，A 和 B 服从 normal(0, 0.02)（开始时与基础模型相同）。False：全部随机。",
    "Modules to rescale: a list of names or name suffixes, a full-match regex, or 'all-linear'. None: the architecture's usual ones (bloom: query_key_value + mlp.dense_4h_to_h).": "要重新缩放的模块：名称或名称后缀的列表、完整匹配的正则表达式，或 'all-linear'。None：该架构的常用模块（bloom：query_key_value + mlp.dense_4h_to_h）。",
    "Targets whose input (not output) is rescaled, as in the paper's MLP vector; must be among target_modules. None: the architecture's usual ones.": "缩放其输入（而非输出）的目标，对应论文中的 MLP 向量；必须属于 target_modules。None：该架构的常用模块。",
    "Start the vectors at one (the model starts equal to the base). False: random.": "向量初始化为 1（开始时模型与基础模型相同）。False：随机。",
    "Optimizer steps to take (ignored when num_epochs > 0).": "要执行的优化步数（num_epochs > 0 时忽略）。",
    "Passes over the training data; 0 = use max_steps.": "遍历训练数据的轮数；0 = 使用 max_steps。",
    "Examples per micro-batch and process.": "每个微批次、每个进程的样本数。",
    "Micro-batches summed into one optimizer step (a bigger batch without more memory).": "累加为一个优化步的微批次数（不增加内存即可得到更大的批次）。",
    "Peak learning rate of AdamW.": "AdamW 的峰值学习率。",
    "LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off.": "LoRA+：B 矩阵的学习速度是其他参数的这么多倍（例如 16）；0 = 关闭。",
    "AdamW weight decay.": "AdamW 权重衰减。",
    "AdamW beta1.": "AdamW beta1。",
    "AdamW beta2.": "AdamW beta2。",
    "AdamW epsilon.": "AdamW epsilon。",
    "After warm-up: 'linear' or 'cosine' decay to 0, or 'constant'.": "预热之后：'linear' 或 'cosine' 衰减到 0，或 'constant'。",
    "Steps of linear warm-up from 0 to the learning rate.": "从 0 线性预热到学习率的步数。",
    "Clip the gradient norm to this; 0 = no clipping.": "将梯度范数裁剪到此值；0 = 不裁剪。",
    "Recompute activations in backward: less memory, ~30 % slower.": "在反向传播中重新计算激活：更省内存，约慢 30 %。",
    "LoRA: layers reading the same input (q/k/v, gate/up) share one dropout mask per step instead of one each (PEFT's way): faster, but a different regulariser.":
        "LoRA：读取同一输入的层（q/k/v、gate/up）每步共用一个 dropout 掩码，而不是各自生成一个（PEFT 的做法）：更快，但正则化效果不同。",
    "Where to train: 'auto' (a GPU when there is one, else the CPU), 'cpu', 'cuda', 'cuda:N' (the GPU numbered N) or 'mps' (Apple GPU). Under accelerate launch / torchrun each process takes its own GPU.": "在哪里训练：'auto'（有 GPU 时用 GPU，否则用 CPU）、'cpu'、'cuda'、'cuda:N'（编号为 N 的 GPU）或 'mps'（Apple GPU）。在 accelerate launch / torchrun 下每个进程使用自己的 GPU。",
    "'auto' (bf16 on GPUs that have it, else fp16; none on CPU), 'no', 'bf16', 'fp16'.": "'auto'（支持的 GPU 上用 bf16，否则 fp16；CPU 上不用）、'no'、'bf16'、'fp16'。",
    "How the frozen base model's weights are held: 'float32', 'bfloat16', 'float16', '8bit' or '4bit' (QLoRA: bitsandbytes, exactly as transformers' BitsAndBytesConfig quantizes).": "冻结的基础模型权重以何种精度保存：'float32'、'bfloat16'、'float16'、'8bit' 或 '4bit'（QLoRA：用 bitsandbytes，与 transformers 的 BitsAndBytesConfig 量化结果完全相同）。",
    "4-bit base only: 'nf4' (NormalFloat, as in QLoRA) or 'fp4'.": "仅用于 4 位基础模型：'nf4'（NormalFloat，与 QLoRA 相同）或 'fp4'。",
    "4-bit base only: quantize the quantization scales too (about 0.4 bit a weight less).": "仅用于 4 位基础模型：对量化缩放因子也进行量化（每个权重约少 0.4 位）。",
    "8-bit / 4-bit base: the dtype its layers compute in and its unquantized modules are held in: 'float32', 'bfloat16' or 'float16'.": "8 位 / 4 位基础模型：各层的计算精度，以及未量化模块的保存精度：'float32'、'bfloat16' 或 'float16'。",
    "Seed of data order, dropout and adapter initialisation.": "数据顺序、dropout 和适配器初始化的随机种子。",
    "Report a step event every this many steps.": "每隔这么多步报告一次步骤事件。",
    "Evaluate on the validation split every this many steps (and at the end); 0 = only at the end.": "每隔这么多步（以及结束时）在验证集上评估；0 = 仅在结束时评估。",
    "Examples per evaluation batch and process.": "每个评估批次、每个进程的样本数。",
    "At each evaluation, answer this many validation prompts greedily and score them against their references (exact match, contains, F1, ROUGE-L); 0 = off.": "每次评估时，用贪心解码回答这么多条验证集提示，并与参考答案比较打分（完全匹配、包含、F1、ROUGE-L）；0 = 关闭。",
    "Longest answer generated for each evaluation prompt, in tokens.": "每条评估提示生成的回答的最大长度（token 数）。",
    "Write a checkpoint every this many steps (and always at the end and on stop); 0 = only then.": "每隔这么多步写入一个检查点（结束时和停止时总会写入）；0 = 仅在那时写入。",
    "Keep at most this many checkpoints (oldest deleted first); 0 = keep all.": "最多保留这么多个检查点（最旧的先删除）；0 = 全部保留。",
    "A .jsonl/.json/.csv/.parquet file, a save_to_disk folder, or a cached hub dataset id.": "一个 .jsonl/.json/.csv/.parquet 文件、一个 save_to_disk 文件夹，或已缓存的 Hub 数据集 ID。",
    "'prompt_completion', 'chat', 'text', or 'auto' (detected from the columns).": "'prompt_completion'、'chat'、'text' 或 'auto'（根据列检测）。",
    "Column with the prompt (prompt_completion format).": "包含提示的列（prompt_completion 格式）。",
    "Column with the answer to learn (prompt_completion format).": "包含要学习的回答的列（prompt_completion 格式）。",
    "Column with the list of {role, content} messages (chat format).": "包含 {role, content} 消息列表的列（chat 格式）。",
    "Column with the raw text (text format).": "包含原始文本的列（text 格式）。",
    "prompt_completion: render prompt and completion as a user/assistant exchange with the chat template (False: plain concatenation).": "prompt_completion：用聊天模板把提示和补全渲染为一轮 user/assistant 对话（False：直接拼接）。",
    "prompt_completion without the chat template: text put between prompt and completion.": "不使用聊天模板的 prompt_completion：放在提示和补全之间的文本。",
    "'completion': loss on answers / assistant turns only; 'all': on every token.": "'completion'：只在回答 / assistant 轮次上计算损失；'all'：在每个 token 上计算。",
    "Longer examples are cut to this many tokens (and counted).": "更长的样本会被截断到这么多 token（并计数）。",
    "Pack several short examples into one row of max_length tokens (fewer pad tokens).": "把多个短样本打包成一行 max_length 个 token（更少的填充 token）。",
    "Fraction of the examples held out for evaluation (0: none).": "留作评估的样本比例（0：不留）。",
    "A separate validation file (overrides validation_split).": "单独的验证文件（覆盖 validation_split）。",
    "Split to use for a hub dataset or a save_to_disk DatasetDict.": "用于 Hub 数据集或 save_to_disk DatasetDict 的拆分。",
    "Seed of the validation split.": "验证集拆分的随机种子。",
})

# Issue 19 (a newcomer's bugs): Train's refusals, Resume's reasons, the failure's details, the playground's model.
ZH.update({
    "Base model: {0} · adapter: {1}": "基础模型：{0} · 适配器：{1}",
    "Details": "详情", "The technical detail of the failure (for a bug report)": "失败的技术细节（用于错误报告）",
    "Resume — {0}": "恢复——{0}", "Model: {0}": "模型：{0}",
    "Model: the built-in {0} is only an architecture (no weights); open a folder of the real model to train it.":
        "模型：内置的 {0} 只是一个架构（没有权重）；请打开真实模型的文件夹来训练它。",
    "Targets: {0}": "目标：{0}", "Data: {0}": "数据：{0}",
    "Data: {0} (Preview again once it is fixed.)": "数据：{0}（修正后请再次预览。）",
    "There is no run {0}.": "没有运行 {0}。",
    "Run {0} is complete: there is nothing to resume. Train starts a new run with the current settings (raise max_steps in the Training tab to train longer).":
        "运行 {0} 已完成：没有可恢复的内容。“训练”会用当前设置开始新的运行（要训练更久，请在“训练”选项卡中调高 max_steps）。",
    "Run {0} is training already.": "运行 {0} 已在训练。",
    "Run {0} has no checkpoint to resume from; fix what it reports and press Train for a new run.":
        "运行 {0} 没有可从中恢复的检查点；请修正它报告的问题，然后按“训练”开始新的运行。",
    "Select a stopped, failed or interrupted run in the runs list first.": "请先在运行列表中选择一个已停止、失败或中断的运行。",
    "Resume the selected run from its last checkpoint": "从最后一个检查点恢复所选运行",
})

# Issue 20: DeepSpeed ZeRO-2/3 in the launch dialog, memory per GPU, the Slurm script.
ZH.update({
    "DeepSpeed is not installed for this Python": "此 Python 未安装 DeepSpeed",
    "DeepSpeed is not installed for this Python, so the ZeRO choices are off. Install it with this command, then open this dialog again:":
        "此 Python 未安装 DeepSpeed，因此 ZeRO 选项不可用。请用下面的命令安装，然后重新打开此对话框：",
    "DS_BUILD_OPS=0: DeepSpeed compiles its optional C++/CUDA ops when first used instead of at install; --no-build-isolation: its build uses the torch already installed":
        "DS_BUILD_OPS=0：DeepSpeed 在首次使用时（而不是安装时）编译其可选的 C++/CUDA 算子；--no-build-isolation：构建时使用已安装的 torch",
    "DDP when the model fits on one GPU (fastest); FSDP2 or DeepSpeed ZeRO-3 for a model too big for one; ZeRO-2 splits only the optimizer state and the gradients; CPU offload keeps the optimizer state in CPU memory (slower steps).":
        "模型能放进单个 GPU 时用 DDP（最快）；单个 GPU 放不下时用 FSDP2 或 DeepSpeed ZeRO-3；ZeRO-2 只切分优化器状态和梯度；CPU 卸载把优化器状态放在 CPU 内存中（每步更慢）。",
    "Per GPU: the Cost panel's estimate with the parts each choice splits divided among the processes. ZeRO-2 splits the optimizer state and the gradients, ZeRO-3 and FSDP2 the weights too; CPU offload moves the optimizer state to CPU memory. Activations stay per process.":
        "每个 GPU：成本面板的估算，其中各选项切分的部分由各进程分摊。ZeRO-2 切分优化器状态和梯度，ZeRO-3 和 FSDP2 还切分权重；CPU 卸载把优化器状态移到 CPU 内存。激活值按进程计，不切分。",
    "Save Slurm script…": "保存 Slurm 脚本…",
    "Write the same launch as a Slurm batch script (#SBATCH lines for one node with these GPUs): sbatch FILE":
        "把同样的启动写成 Slurm 批处理脚本（#SBATCH 行：一个节点、这些 GPU）：sbatch 文件",
    "DeepSpeed ZeRO-2: optimizer state and gradients split across the GPUs": "DeepSpeed ZeRO-2：优化器状态和梯度切分到各 GPU",
    "ZeRO-2 + CPU offload": "ZeRO-2 + CPU 卸载",
    "DeepSpeed ZeRO-2 + CPU offload: the optimizer state in CPU memory": "DeepSpeed ZeRO-2 + CPU 卸载：优化器状态放在 CPU 内存中",
    "DeepSpeed ZeRO-3: weights, gradients and optimizer state split across the GPUs": "DeepSpeed ZeRO-3：权重、梯度和优化器状态切分到各 GPU",
    "ZeRO-3 + CPU offload": "ZeRO-3 + CPU 卸载",
    "DeepSpeed ZeRO-3 + CPU offload: the optimizer state in CPU memory": "DeepSpeed ZeRO-3 + CPU 卸载：优化器状态放在 CPU 内存中",
    "Memory per GPU: no estimate yet (the Cost panel computes it from the model and the batch).":
        "每个 GPU 的内存：尚无估算（成本面板会根据模型和批大小计算）。",
    "Memory per GPU (estimate): {0} — one process holds everything.": "每个 GPU 的内存（估算）：{0}——单个进程保存全部内容。",
    "{0} processes": "{0} 个进程", "per GPU": "每个 GPU", "saves per GPU": "每个 GPU 节省", "CPU memory": "CPU 内存",
    "Memory per GPU (estimate; one process alone: {0}):": "每个 GPU 的内存（估算；单个进程：{0}）：",
    "This choice, per GPU: {0}": "此选项，每个 GPU：{0}",
    "DeepSpeed is not installed for this Python: install it (the command above) or choose DDP or FSDP2.":
        "此 Python 未安装 DeepSpeed：请安装它（见上方命令），或选择 DDP 或 FSDP2。",
    "Save Slurm script": "保存 Slurm 脚本", "Slurm batch script (*.sbatch *.sh)": "Slurm 批处理脚本 (*.sbatch *.sh)",
    "Slurm script": "Slurm 脚本",
})

# The export dialog's GGUF and Ollama targets (docs/export.md).
ZH.update({
    "GGUF for llama.cpp / LM Studio (merged; checked in llama.cpp)": "用于 llama.cpp / LM Studio 的 GGUF（合并；在 llama.cpp 中校验）",
    "LoRA adapter GGUF (llama.cpp --lora; checked on its base)": "LoRA 适配器 GGUF（llama.cpp --lora；在其基座上校验）",
    "Ollama folder (GGUF + Modelfile)": "Ollama 文件夹（GGUF + Modelfile）",
    "name for ollama create (optional)": "ollama create 使用的名称（可选）",
    "GGUF type": "GGUF 类型", "Ollama name": "Ollama 名称",
    "Writing {0}, then checking it in llama.cpp against our model…": "正在写入 {0}，然后在 llama.cpp 中与我们的模型对照校验…",
})

# The Hub dialog (studio/widgets/hub_dialog.py, docs/models.md).
ZH.update({
    "Hub…": "Hub…",
    "Find a model on the Hugging Face Hub or in the gallery: look at it, then download it": "在 Hugging Face Hub 或模型库中查找模型：先查看，再下载",
    "Models from the Hugging Face Hub": "来自 Hugging Face Hub 的模型",
    "Search words, or a model id such as Qwen/Qwen2.5-0.5B-Instruct": "搜索词，或模型 ID，例如 Qwen/Qwen2.5-0.5B-Instruct",
    "Search": "搜索", "Look up id": "查询 ID", "revision (main)": "修订版本 (main)",
    "Choose a model on the left: its facts, tree and memory show before anything is downloaded.": "在左侧选择一个模型：在下载任何内容之前即可看到它的信息、模块树和内存估算。",
    "Download": "下载", "Cancel download": "取消下载", "Use this model": "使用此模型", "Close": "关闭",
    "hf_… (read token, for gated models)": "hf_…（读取令牌，用于受限模型）", "Save token": "保存令牌",
    "Access token:": "访问令牌：", "Gallery (facts and tree offline)": "模型库（离线显示信息和模块树）",
    ", gated": "，受限", "On the Hub": "Hub 上", "{0}  ({1:,} downloads{2})": "{0}  （{1:,} 次下载{2}）",
    "Searching the Hub for {0}…": "正在 Hub 上搜索 {0}…", "{0} models found on the Hub.": "在 Hub 上找到 {0} 个模型。",
    "No model on the Hub matches {0}.": "Hub 上没有与 {0} 匹配的模型。",
    "Looking up {0} (config.json only)…": "正在查询 {0}（仅 config.json）…",
    "Parameters: {0:,} ({1})": "参数：{0:,}（{1}）",
    "Training memory for the current method (estimate): {0}; trainable parameters {1:,}": "当前方法的训练内存（估算）：{0}；可训练参数 {1:,}",
    "no": "否", "yes": "是", "yes (access granted on request)": "是（申请后自动授权）",
    "yes (the authors approve each request)": "是（作者逐一审批申请）",
    "Licence: {0} · gated: {1}": "许可证：{0} · 受限：{1}", "not stated": "未注明",
    "Download: {0} files, {1}": "下载：{0} 个文件，{1}", "Offline: what the cache holds.": "离线：缓存中已有的内容。",
    "Already downloaded: it opens offline.": "已下载：可离线打开。",
    "From the gallery's config.json (the Hub was not reached).": "来自模型库自带的 config.json（未连接到 Hub）。",
    "Downloading {0}…": "正在下载 {0}…", "Cancelling…": "正在取消…",
    "{0} of {1} · {2}/s · {3} left · {4}": "{0} / {1} · {2}/s · 剩余 {3} · {4}",
    "{0} is downloaded and its weights check out ({1}).": "{0} 已下载，权重校验通过（{1}）。",
    "Logged in as {0}": "已登录为 {0}", "Not saved": "未保存", "A token is stored": "已保存令牌",
    "No token stored": "未保存令牌",
})

# Evaluation: the Samples and Blind A/B tabs, the runs list's score columns (docs/evaluation.md).
ZH.update({
    "Samples": "样例", "Blind A/B": "盲评 A/B", "best score": "最佳得分", "blind A/B": "盲评 A/B",
    "exact match": "完全匹配", "contains": "包含", "token F1": "词元 F1", "ROUGE-L": "ROUGE-L", "Score:": "得分：",
    "The task score the runs list shows: each run's best over its evaluations": "运行列表显示的任务得分：每个运行在各次评估中的最佳值",
    "The evaluation prompt to look at": "要查看的评估提示", "Slide through the evaluation steps": "在各评估步骤之间滑动",
    "No samples yet: a run records its answers to the evaluation prompts at each evaluation.": "尚无样例：运行会在每次评估时记录它对评估提示的回答。",
    "Base model": "基础模型", "Reference": "参考答案", "Prompt:": "提示：", "Step:": "步骤：", "Checkpoint": "检查点",
    "step {0} ({1} of {2})": "第 {0} 步（第 {1} 个，共 {2} 个）", "Step {0}": "第 {0} 步", "not recorded": "未记录",
    "Start blind comparison": "开始盲评", "Choose two models, then Start: both answer the evaluation prompts.": "选择两个模型，然后点击开始：两者都会回答评估提示。",
    "A is better (A)": "A 更好 (A)", "Tie (T)": "平局 (T)", "B is better (B)": "B 更好 (B)", "Model 1:": "模型 1：",
    "Model 2:": "模型 2：", "Answer A": "回答 A", "Answer B": "回答 B", "base model": "基础模型",
    "Choose two different models.": "请选择两个不同的模型。",
    "The run has no evaluation prompts recorded (it needs a validation set and eval_samples > 0).": "该运行没有记录评估提示（需要验证集且 eval_samples > 0）。",
    "Both models are answering {0} prompts…": "两个模型正在回答 {0} 条提示…", "The models could not answer: {0}": "模型无法作答：{0}",
    "Prompt {0} of {1}: which answer is better? Keys A, B, or T for a tie.": "第 {0} 条提示，共 {1} 条：哪个回答更好？按 A、B，平局按 T。",
    "{0}: {1} wins {2:.0%} (95 % interval {3:.0%}–{4:.0%}) over {5} prompts; {6} {7}, {8} {9}, ties {10}.": "{0}：{1} 胜率 {2:.0%}（95 % 区间 {3:.0%}–{4:.0%}），共 {5} 条提示；{6} {7}，{8} {9}，平局 {10}。",
    "tie": "平局", "preferred": "更优",
    "Automatic judge (optional): an OpenAI-compatible endpoint": "自动评判（可选）：兼容 OpenAI 的接口",
    "The API's base address: llama.cpp's llama-server, Ollama (…:11434/v1) or a hosted API": "API 的基础地址：llama.cpp 的 llama-server、Ollama（…:11434/v1）或托管 API",
    "the model name the server knows": "服务器上的模型名称",
    "API key, if it needs one (kept in your config folder, never in the project)": "API 密钥（如需要；保存在你的配置文件夹中，绝不写入项目）",
    "The judge prompt; it is asked twice per prompt, with the answers in both orders": "评判提示；每条提示会以两种回答顺序各询问一次",
    "Ask the judge": "请评判模型判定", "Endpoint:": "接口：", "Model:": "模型：", "Key:": "密钥：",
    "Start a comparison and name the judge's model first.": "请先开始一次比较，并填写评判模型的名称。",
    "The judge is deciding {0} prompts, each in both orders…": "评判模型正在判定 {0} 条提示，每条两种顺序…",
    "The judge could not decide: {0}": "评判模型无法判定：{0}",
})

# The export dialog's checkpoint choice: the final weights, a step, or the best by a metric (docs/studio.md).
ZH.update({
    "Final weights — step {0}": "最终权重——第 {0} 步", "Last checkpoint — step {0}": "最后的检查点——第 {0} 步",
    "Best by a metric the run evaluated": "按运行评估过的指标选最佳",
    "No checkpoint of this run was evaluated (eval_steps with checkpoints at the same steps).": "此运行没有经过评估的检查点（需要设置 eval_steps，并在相同步数保存检查点）。",
    "No checkpoint of this run was evaluated.": "此运行没有经过评估的检查点。",
    "step {0} — {1}": "第 {0} 步——{1}", "{0} (lowest)": "{0}（越低越好）", "{0} (highest)": "{0}（越高越好）",
    "What \"best\" ranks by: the run's checkpoints with this metric in the project file": "“最佳”的排序依据：项目文件中带有此指标的本运行检查点",
    "Best by": "最佳依据", "Best by {0}: step {1} ({2}), score {3}": "按{0}最佳：第 {1} 步（{2}），得分 {3}",
})

# The export dialog's serving-compatible adapter (docs/export.md).
ZH.update({
    "Serving-compatible adapter (one rank, scales baked in: vLLM, TGI / LoRAX)": "适合推理服务的适配器（统一秩，缩放已并入权重：vLLM、TGI / LoRAX）",
    "A LoRA adapter copy that servers applying one alpha / r to every module compute exactly as the original (rsLoRA, rank and alpha patterns folded into the weights); checked by reloading it.":
        "LoRA 适配器的副本：对所有模块使用同一个 alpha / r 的推理服务会得到与原适配器完全相同的结果（rsLoRA、各模块的秩与 alpha 已并入权重）；导出后重新加载校验。",
    "a serving-compatible adapter": "适合推理服务的适配器",
})

# The module tree's experts rows (mixture-of-experts models: LoRA's target_parameters).
ZH.update({
    "{0}: its weights are fused parameters, one matrix per expert ({1}), not Linear layers. Ticking adds them to target_parameters (one LoRA update per expert); unticking removes them.":
        "{0}：其权重是融合参数，每个专家一个矩阵（{1}），不是 Linear 层。勾选会把它们加入 target_parameters（每个专家一个 LoRA 更新）；取消勾选会移除它们。",
    "Selected in {0} of {1} blocks.": "已在 {1} 个块中的 {0} 个中选中。",
    "Also adapt the experts ({0})": "同时适配专家（{0}）",
    "This mixture-of-experts model keeps its experts as fused parameters, which all-linear does not select: without target_parameters only the attention layers train. A click sets target_parameters to {0} (one LoRA update per expert), the default of a new project on this model.":
        "这个混合专家模型把专家保存为融合参数，all-linear 不会选中它们：没有 target_parameters 时只训练注意力层。点击后 target_parameters 设为 {0}（每个专家一个 LoRA 更新），即在此模型上新建项目时的默认值。",
})

# Combine runs (adapter arithmetic; docs/combine.md).
ZH.update({
    "linear — adds the A and B matrices (same rank); cheap, approximate": "linear——把 A 矩阵与 B 矩阵分别相加（秩须相同）；计算量小，结果近似",
    "cat — exact weighted sum of the updates; the ranks add up": "cat——各更新的精确加权和；秩相加",
    "svd — weighted sum of the updates, refactorised to a chosen rank": "svd——各更新的加权和，再分解到选定的秩",
    "ties — prune, keep the majority sign, average (same rank)": "ties——剪枝，保留多数符号，再取平均（秩须相同）",
    "dare_linear — random pruning with rescaling, then linear (same rank)": "dare_linear——随机剪枝并重新缩放，再按 linear 合并（秩须相同）",
    "dare_ties — random pruning with rescaling, then ties (same rank)": "dare_ties——随机剪枝并重新缩放，再按 ties 合并（秩须相同）",
    "magnitude_prune — keep the largest values, then linear (same rank)": "magnitude_prune——保留绝对值最大的值，再按 linear 合并（秩须相同）",
    "{0} — the {1} rule on the full updates, then svd": "{0}——对完整更新应用 {1} 规则，再做 svd 分解",
    "Combine runs": "合并运行",
    "Make one adapter from finished runs on the same base model, each with a weight (a negative weight subtracts). Preview it in the playground, then save it as a new run that exports like any other.":
        "把同一基础模型上已完成的运行合并成一个适配器，每个运行带一个权重（负权重表示减去）。先在试验场中预览，再保存为新的运行，可以像其他运行一样导出。",
    "rank": "秩", "weight": "权重", "status {0}": "状态 {0}",
    "The fraction of each tensor's values kept before combining": "合并前每个张量保留的值所占比例",
    "total — the sign of the weighted sum": "total——取加权和的符号", "frequency — the more frequent sign": "frequency——取出现更多的符号",
    "the largest rank of the runs": "各运行中最大的秩", "Combination": "合并方式", "Density": "密度",
    "Majority sign": "多数符号", "SVD rank": "SVD 秩", "Name": "名称",
    "Preview in the playground": "在试验场中预览", "Save as new run": "保存为新运行",
    "No finished run with a checkpoint yet: train runs first (LoRA or IA3, on the same base model).":
        "还没有带检查点的已完成运行：请先训练运行（LoRA 或 IA3，同一基础模型）。",
    "Combining {0}…": "正在合并 {0}…", "Preview (not saved): {0}": "预览（未保存）：{0}",
    "Ready in the playground: {0}. Save keeps exactly this adapter.": "已可在试验场中使用：{0}。保存时保留的正是这个适配器。",
    "Saved as run {0}: {1}. Export it from the runs list like any run.": "已保存为运行 {0}：{1}。可以像其他运行一样从运行列表导出。",
    "The combination failed: {0}": "合并失败：{0}",
    "Type a prompt and Generate: the base model and the previewed adapter side by side.": "输入提示词并点击生成：基础模型与预览的适配器并排输出。",
    "Combine selected runs…": "合并所选运行…", "Combine runs…": "合并运行…", "&Combine runs…": "合并运行(&C)…",
    "Make one adapter from finished runs, each with a weight (adapter arithmetic)": "把已完成的运行按各自的权重合并成一个适配器（适配器运算）",
    "Make one adapter from finished runs, each with a weight, and save it as a new run": "把已完成的运行按各自的权重合并成一个适配器，并保存为新运行",
    "Saved the combination as run {0}.": "已将合并结果保存为运行 {0}。",
    "The combined adapter": "合并得到的适配器",
})

# The method picker: what each method is for (measured) and the warning for a poor fit (issue #21).
ZH.update({
    "new facts to remember": "需要记住的新事实", "a style or format for answers": "回答的风格或格式",
    "What your dataset teaches. New facts: names, numbers, answers the model does not know yet. A style or format: the way answers are written (a template, a tone, JSON), with content the model already knows.":
        "你的数据集教的是什么。新事实：模型还不知道的名称、数字、答案。风格或格式：回答的写法（模板、语气、JSON），内容是模型已经知道的。",
    "Your data teaches": "你的数据教的是", "new facts": "新事实", "a style or format": "风格或格式",
    "stores new facts": "能存储新事实", "steers style and format": "能引导风格和格式",
    "measured well on neither kind of data": "在两类数据上的测量结果都不好",
    "Good for: {0}.": "适用于：{0}。",
    "On SmolLM2-135M: {0} trainable parameters; 60 steps took {1:.0f} s on 2 shared CPU cores.":
        "在 SmolLM2-135M 上：{0} 个可训练参数；60 步在 2 个共享的 CPU 核心上用时 {1:.0f} 秒。",
    "Merges into the model's weights.": "可以合并进模型权重。",
    "Stays a separate adapter: it cannot be merged into the model.": "保持为独立的适配器：不能合并进模型。",
    "Measured: {0} at its defaults learned little of {1} (held-out score {2:.2f}).": "实测：{0} 在默认设置下几乎没有学会{1}（留出集得分 {2:.2f}）。",
    "For {0}, pick {1} ({2} scored {3:.2f}).": "对于{0}，请选择 {1}（{2} 得分 {3:.2f}）。",
    "The hub id '{id}' is not in the local Hugging Face cache, and Adapter Studio never downloads models itself. On a machine with network, run `hf download {id}` and copy the cache over, or clone https://huggingface.co/{id} and choose that folder.":
        "本地 Hugging Face 缓存中没有 hub id '{id}'，而 Adapter Studio 自己从不下载模型。请在有网络的机器上运行 `hf download {id}` 并把缓存复制过来，或克隆 https://huggingface.co/{id} 并选择那个文件夹。",
})

path = Path(__file__).with_name("studio_zh_CN.ts")
tree = ET.parse(path)
missing = []
for message in tree.iter("message"):
    source = message.findtext("source")
    translation = message.find("translation")
    if source in ZH:
        translation.text = ZH[source]
        translation.attrib.pop("type", None)
    else:
        missing.append(source)
tree.write(path, encoding="utf-8", xml_declaration=True)
if missing:
    print("untranslated:", missing)
