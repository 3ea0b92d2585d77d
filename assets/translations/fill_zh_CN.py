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
