<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>AdaptationView</name>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="118" />
        <source>Show where the adaptation went</source>
        <translation>显示适配发生在哪里</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="123" />
        <source>After a LoRA-family run: the size of each module's learned update, per block.</source>
        <translation>LoRA 系列运行之后：每个模块学到的更新量大小，按块显示。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="126" />
        <source>Checkpoint:</source>
        <translation>检查点：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="177" />
        <source>final</source>
        <translation>最终</translation>
    </message>
</context>
<context>
    <name>CostPanel</name>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="105" />
        <source>Parameters</source>
        <translation>参数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="107" />
        <source>trainable</source>
        <translation>可训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="108" />
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="109" />
        <source>trainable %</source>
        <translation>可训练 %</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="124" />
        <source>The peak of the tensors alive in one training step (core.estimate):
weights: the base model in the chosen dtype
adapter, gradients, optimizer: the trainable parameters, their gradients and AdamW's two moments (float32)
activations: what autograd keeps for backward, traced through the adapted model
workspace: temporaries at the peak, the gradients of the largest kept tensor (usually the logits)
The training process itself needs more: Python and torch, and the allocator's slack.</source>
        <translation>一个训练步中同时存在的张量的峰值（core.estimate）：
权重：所选数据类型下的基础模型
适配器、梯度、优化器：可训练参数、它们的梯度以及 AdamW 的两个动量（float32）
激活：autograd 为反向传播保留的内容，通过适配后的模型追踪得到
工作区：峰值时的临时张量，即最大保留张量的梯度（通常是 logits）
训练进程本身还需要更多：Python 和 torch，以及内存分配器的余量。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="131" />
        <source>Training memory (estimate)</source>
        <translation>训练内存（估算）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="133" />
        <source>batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="134" />
        <source>sequence length</source>
        <translation>序列长度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="135" />
        <source>dtype</source>
        <translation>数据类型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="137" />
        <source>total</source>
        <translation>总计</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="184" />
        <source>(+{0} under 1 %)</source>
        <translation>（另有 {0} 项低于 1 %）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="192" />
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="193" />
        <source>adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="194" />
        <source>gradients</source>
        <translation>梯度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="195" />
        <source>optimizer</source>
        <translation>优化器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="196" />
        <source>activations</source>
        <translation>激活</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="197" />
        <source>workspace</source>
        <translation>工作区</translation>
    </message>
</context>
<context>
    <name>DataPanel</name>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="88" />
        <source>a .jsonl, .json, .csv or .parquet file, a save_to_disk folder, or a cached hub id</source>
        <translation>.jsonl、.json、.csv 或 .parquet 文件，save_to_disk 文件夹，或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="89" />
        <source>Choose file…</source>
        <translation>选择文件…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="95" />
        <source>auto: told from the columns; or say which layout the records have</source>
        <translation>auto：根据列判断；或指定记录的布局</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="104" />
        <source>prompt</source>
        <translation>提示</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="105" />
        <source>completion</source>
        <translation>补全</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="106" />
        <source>messages</source>
        <translation>消息</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="107" />
        <source>text</source>
        <translation>文本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="110" />
        <source>The column with the prompt (the context, not trained on)</source>
        <translation>包含提示的列（作为上下文，不参与训练）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="111" />
        <source>The column with the answer to learn</source>
        <translation>包含要学习的回答的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="112" />
        <source>The column with the list of {role, content} messages</source>
        <translation>包含 {role, content} 消息列表的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="113" />
        <source>The column with the raw text</source>
        <translation>包含原始文本的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="115" />
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="118" />
        <source>file</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="119" />
        <source>format</source>
        <translation>格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="130" />
        <source>alpaca layout: instruction (+ input) is the prompt, output the completion. Pick columns above to use others.</source>
        <translation>alpaca 布局：instruction（+ input）为提示，output 为补全。在上方选择列可改用其他列。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="148" />
        <source>Preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="241" />
        <source>Choose a dataset</source>
        <translation>选择数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="241" />
        <source>Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)</source>
        <translation>数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="364" />
        <source>detected: {0}</source>
        <translation>检测到：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="366" />
        <source>no format fits: pick the columns</source>
        <translation>没有合适的格式：请选择列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="394" />
        <source>alpaca: instruction + input</source>
        <translation>alpaca：instruction + input</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="394" />
        <source>alpaca: output</source>
        <translation>alpaca：output</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="398" />
        <source>{0} (not in the file)</source>
        <translation>{0}（不在文件中）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="437" />
        <source>format: {0} · {1} examples</source>
        <translation>格式：{0} · {1} 个样本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="457" />
        <source>tokens per example</source>
        <translation>每个样本的 token 数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="458" />
        <source>examples</source>
        <translation>样本数</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="65" />
        <source>Export run {0}</source>
        <translation>导出运行 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="67" />
        <source>Merged model (a plain Hugging Face model folder)</source>
        <translation>合并后的模型（普通的 Hugging Face 模型文件夹）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="68" />
        <source>Adapter only (PEFT's layout: adapter_config.json + safetensors)</source>
        <translation>仅适配器（PEFT 布局：adapter_config.json + safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="86" />
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="92" />
        <source>Checkpoint</source>
        <translation>检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="93" />
        <source>Folder</source>
        <translation>文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="100" />
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="105" />
        <source>This run has no checkpoint yet; train (or resume) it first.</source>
        <translation>此运行还没有检查点；请先训练（或恢复）它。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="117" />
        <source>Export to folder</source>
        <translation>导出到文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="137" />
        <source>a merged model</source>
        <translation>合并后的模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="137" />
        <source>the adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="138" />
        <source>Writing {0}, then reloading it and comparing logits with the adapter model…</source>
        <translation>正在写入{0}，然后重新加载并与适配器模型比较 logits…</translation>
    </message>
</context>
<context>
    <name>LaunchDialog</name>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="60" />
        <source>Train on several GPUs</source>
        <translation>在多个 GPU 上训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="60" />
        <source>Train through accelerate launch</source>
        <translation>通过 accelerate launch 训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="62" />
        <source>(none found)</source>
        <translation>（未找到）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="68" />
        <source>Processes, one per GPU: each holds the whole model and trains on its share of every batch (data parallel); gradients are averaged.</source>
        <translation>每个 GPU 一个进程：每个进程保存完整模型，训练每个批次中属于自己的部分（数据并行）；梯度取平均。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="71" />
        <source>Data parallel (DDP): each GPU holds the whole model</source>
        <translation>数据并行 (DDP)：每个 GPU 保存完整模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="72" />
        <source>Sharded (FSDP2): the model's weights are split across the GPUs</source>
        <translation>分片 (FSDP2)：模型权重分布在各个 GPU 上</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="73" />
        <source>DDP when the model fits on one GPU (fastest); FSDP for a model too big for one.</source>
        <translation>模型能放进单个 GPU 时用 DDP（最快）；单个 GPU 放不下时用 FSDP。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="77" />
        <source>The port the processes meet on; two runs at once on one machine need two ports.</source>
        <translation>各进程会合的端口；同一台机器上同时运行两个任务需要两个端口。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="79" />
        <source>From the Training tab's mixed_precision ('auto': bf16 where every chosen GPU has it, else fp16).</source>
        <translation>取自“训练”页的 mixed_precision（'auto'：所选 GPU 都支持时用 bf16，否则用 fp16）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="82" />
        <source>GPUs found:</source>
        <translation>找到的 GPU：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="82" />
        <source>Device:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="82" />
        <source>CPU (one process)</source>
        <translation>CPU（单进程）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="83" />
        <source>Processes (GPUs):</source>
        <translation>进程数（GPU）：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="84" />
        <source>Parallelism:</source>
        <translation>并行方式：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="85" />
        <source>Mixed precision:</source>
        <translation>混合精度：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="86" />
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="100" />
        <source>The command Start runs (CONFIG: the config, written beside the run's checkpoints)</source>
        <translation>“开始”执行的命令（CONFIG：配置文件，写在该运行的检查点旁）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="104" />
        <source>Save config…</source>
        <translation>保存配置…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="105" />
        <source>Write this accelerate config as a YAML file</source>
        <translation>将此 accelerate 配置写为 YAML 文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="107" />
        <source>Save launch script…</source>
        <translation>保存启动脚本…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="108" />
        <source>Write a bash script that does this launch, to run in a terminal or as a cluster job (srun / sbatch; see its comments)</source>
        <translation>写出执行此启动的 bash 脚本，可在终端中运行或作为集群作业（srun / sbatch；见脚本注释）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="117" />
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="124" />
        <source>accelerate config:</source>
        <translation>accelerate 配置：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="126" />
        <source>Command:</source>
        <translation>命令：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="158" />
        <source>none (fp32)</source>
        <translation>无 (fp32)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="169" />
        <source>One process: Start trains with the bundle's own worker (no accelerate launch).</source>
        <translation>单进程：“开始”用安装包自带的工作进程训练（不经 accelerate launch）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="172" />
        <source>resumes run {0}</source>
        <translation>恢复运行 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="172" />
        <source>creates a new run</source>
        <translation>创建一个新运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="173" />
        <source>Start {0} and writes the config and a launch script beside its checkpoints ({1}, {2}).</source>
        <translation>“开始”会{0}，并在其检查点旁写入配置和启动脚本（{1}、{2}）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="193" />
        <source>Save accelerate config</source>
        <translation>保存 accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="193" />
        <source>YAML (*.yaml *.yml)</source>
        <translation>YAML (*.yaml *.yml)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="201" />
        <source>Save launch script</source>
        <translation>保存启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="201" />
        <source>Shell script (*.sh)</source>
        <translation>Shell 脚本 (*.sh)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="212" />
        <source>Could not write {0}: {1}</source>
        <translation>无法写入 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="214" />
        <source>Saved {0}</source>
        <translation>已保存 {0}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../studio/main_window.py" line="163" />
        <source>A built-in name, a model folder, a .gguf file or a cached hub id</source>
        <translation>内置名称、模型文件夹、.gguf 文件或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="165" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="167" />
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="168" />
        <source>Open a Hugging Face model folder (config.json + *.safetensors)</source>
        <translation>打开 Hugging Face 模型文件夹（config.json + *.safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="169" />
        <source>.gguf…</source>
        <translation>.gguf…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="170" />
        <source>Open a .gguf model file</source>
        <translation>打开 .gguf 模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="184" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="185" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="186" />
        <source>Data</source>
        <translation>数据</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="206" />
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="228" />
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="229" />
        <source>&amp;New…</source>
        <translation>新建(&amp;N)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="230" />
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="231" />
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="232" />
        <source>Save &amp;As…</source>
        <translation>另存为(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="233" />
        <source>Recent projects</source>
        <translation>最近的项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="235" />
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="236" />
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="237" />
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="239" />
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="243" />
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="244" />
        <source>Focus the tree filter</source>
        <translation>聚焦到模块树筛选框</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="249" />
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="251" />
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="259" />
        <source>The language changes the next time Adapter Studio starts.</source>
        <translation>语言将在下次启动 Adapter Studio 时更改。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="350" />
        <source>Cannot open project</source>
        <translation>无法打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="363" />
        <location filename="../../studio/main_window.py" line="400" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="403" />
        <source>Saved — the project saves itself as you edit.</source>
        <translation>已保存——项目会在编辑时自动保存。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="406" />
        <source>New project</source>
        <translation>新建项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="413" />
        <source>Open project</source>
        <translation>打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="422" />
        <source>Save project as</source>
        <translation>项目另存为</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="440" />
        <source>Model folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="445" />
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="455" />
        <source>Building the skeleton of {0}…</source>
        <translation>正在构建 {0} 的骨架…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="456" />
        <source>Loading {0}…</source>
        <translation>正在加载 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="468" />
        <source>{0}: {1:,} parameters</source>
        <translation>{0}：{1:,} 个参数</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="490" />
        <source>The methods could not be loaded: {0}</source>
        <translation>无法加载方法：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="518" />
        <source>adaption prompt adapts this attention module</source>
        <translation>adaption prompt 会适配此注意力模块</translation>
    </message>
</context>
<context>
    <name>MethodForm</name>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="67" />
        <source>loading methods…</source>
        <translation>正在加载方法…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="76" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
</context>
<context>
    <name>ModuleTree</name>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="103" />
        <source>Filter: name or regex (F)</source>
        <translation>筛选：名称或正则表达式 (F)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="117" />
        <source>Module</source>
        <translation>模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="117" />
        <source>Class</source>
        <translation>类</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="117" />
        <source>Shape</source>
        <translation>形状</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="117" />
        <source>Params</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="132" />
        <source>Only this block</source>
        <translation>仅此块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="139" />
        <source>block</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="145" />
        <source>all layers</source>
        <translation>所有层</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="152" />
        <source>Layers:</source>
        <translation>层：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="154" />
        <source>from</source>
        <translation>从</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="156" />
        <source>to</source>
        <translation>到</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="160" />
        <source>target_modules: names (q_proj, v_proj) or a regex</source>
        <translation>target_modules：名称（q_proj, v_proj）或正则表达式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="166" />
        <source>Targets:</source>
        <translation>目标：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="456" />
        <source>Untick {0}</source>
        <translation>取消勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="459" />
        <source>Tick in all {0} blocks</source>
        <translation>在全部 {0} 个块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="462" />
        <location filename="../../studio/widgets/module_tree.py" line="477" />
        <source>Tick only in block {0}</source>
        <translation>仅在第 {0} 块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="464" />
        <source>Tick {0}</source>
        <translation>勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="478" />
        <source>Tick only in block</source>
        <translation>仅在某一块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="506" />
        <source>{0}: ticked in all {1} blocks.</source>
        <translation>{0}：已在全部 {1} 个块中勾选。</translation>
    </message>
</context>
<context>
    <name>Playground</name>
    <message>
        <location filename="../../studio/widgets/playground.py" line="109" />
        <source>Any checkpoint of any run of this project</source>
        <translation>本项目任意运行的任意检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="110" />
        <source>Chat mode</source>
        <translation>对话模式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="111" />
        <source>Wrap the prompt in the tokenizer's chat template</source>
        <translation>用分词器的对话模板包装提示</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="115" />
        <source>max new tokens </source>
        <translation>最大新 token 数 </translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="117" />
        <source>Type a prompt; Generate runs the base model and the adapter side by side.</source>
        <translation>输入提示；“生成”会并排运行基础模型和适配器。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="119" />
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="121" />
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="131" />
        <source>Adapter:</source>
        <translation>适配器：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="138" />
        <source>&lt;b&gt;Base model&lt;/b&gt;</source>
        <translation>&lt;b&gt;基础模型&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="139" />
        <source>&lt;b&gt;With the adapter&lt;/b&gt;</source>
        <translation>&lt;b&gt;加上适配器&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="168" />
        <source>No checkpoint yet: train a run first.</source>
        <translation>还没有检查点：请先训练一次。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="185" />
        <source>Loading {0} with {1}…</source>
        <translation>正在加载 {0} 和 {1}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="214" />
        <source>Done.</source>
        <translation>完成。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="214" />
        <source> The adapter did not change this answer.</source>
        <translation> 适配器没有改变这个回答。</translation>
    </message>
</context>
<context>
    <name>RunStatus</name>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="41" />
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="41" />
        <source>● running</source>
        <translation>● 运行中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="42" />
        <source>✓ completed</source>
        <translation>✓ 已完成</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="42" />
        <source>‖ paused</source>
        <translation>‖ 已暂停</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="43" />
        <source>■ stopped</source>
        <translation>■ 已停止</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="43" />
        <source>✗ failed</source>
        <translation>✗ 失败</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="44" />
        <source>✗ crashed / interrupted</source>
        <translation>✗ 崩溃 / 中断</translation>
    </message>
</context>
<context>
    <name>RunView</name>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="131" />
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="136" />
        <source>Resume from last checkpoint</source>
        <translation>从最近的检查点恢复</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="139" />
        <source>Save plot…</source>
        <translation>保存图表…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="140" />
        <source>Save the curves as PNG or SVG</source>
        <translation>将曲线保存为 PNG 或 SVG</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="143" />
        <source>no run</source>
        <translation>无运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="148" />
        <source>The worker's log appears here.</source>
        <translation>工作进程的日志显示在这里。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="320" />
        <source>after step {0}; Continue (Ctrl+P) goes on, Stop writes a checkpoint</source>
        <translation>在第 {0} 步之后；“继续”(Ctrl+P) 接着训练，“停止”会写入检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="329" />
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="432" />
        <source>Save plot</source>
        <translation>保存图表</translation>
    </message>
</context>
<context>
    <name>RunsList</name>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="29" />
        <source>run</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="29" />
        <source>status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="29" />
        <source>method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="30" />
        <source>steps</source>
        <translation>步数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="30" />
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="30" />
        <source>eval loss</source>
        <translation>评估损失</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="31" />
        <source>best eval</source>
        <translation>最佳评估</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="31" />
        <source>duration</source>
        <translation>时长</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="74" />
        <source>Select two runs to compare their settings; several to overlay their curves.</source>
        <translation>选择两个运行可比较设置；选择多个可叠加曲线。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="76" />
        <source>Exports of this project (verified against the adapter model)</source>
        <translation>本项目的导出（已与适配器模型比对验证）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="83" />
        <source>Exports</source>
        <translation>导出</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="183" />
        <source>Resume from last checkpoint</source>
        <translation>从最近的检查点恢复</translation>
    </message>
</context>
<context>
    <name>TrainingController</name>
    <message>
        <location filename="../../studio/training.py" line="74" />
        <location filename="../../studio/training.py" line="84" />
        <source>Runs</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="78" />
        <source>Playground</source>
        <translation>试用</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="82" />
        <source>Where it adapted</source>
        <translation>适配位置</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="89" />
        <source>▶ Train</source>
        <translation>▶ 训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="90" />
        <source>Start a training run in a worker process (Ctrl+Enter)</source>
        <translation>在工作进程中开始一次训练 (Ctrl+Enter)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="91" />
        <source>■ Stop</source>
        <translation>■ 停止</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="92" />
        <source>Checkpoint and stop the run (Esc)</source>
        <translation>写入检查点并停止运行 (Esc)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="94" />
        <location filename="../../studio/training.py" line="368" />
        <source>‖ Pause</source>
        <translation>‖ 暂停</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="105" />
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="106" />
        <source>&amp;Train</source>
        <translation>训练(&amp;T)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="108" />
        <source>&amp;Stop</source>
        <translation>停止(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="111" />
        <location filename="../../studio/training.py" line="374" />
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="114" />
        <source>&amp;Resume selected run</source>
        <translation>恢复所选运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="116" />
        <source>&amp;Export…</source>
        <translation>导出(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="117" />
        <source>Save &amp;plot…</source>
        <translation>保存图表(&amp;P)…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="176" />
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="241" />
        <source>A run is training; stop it first.</source>
        <translation>有运行正在训练；请先停止它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="248" />
        <source>Looking for GPUs…</source>
        <translation>正在查找 GPU…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="256" />
        <source>Cannot train</source>
        <translation>无法训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="261" />
        <source>starting the worker…</source>
        <translation>正在启动工作进程…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="292" />
        <source>Saved the {0}: {1}</source>
        <translation>已保存{0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="292" />
        <source>launch script</source>
        <translation>启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="292" />
        <source>accelerate config</source>
        <translation>accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="365" />
        <source>▶ Continuing…</source>
        <translation>▶ 正在继续…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="365" />
        <source>▶ Continue</source>
        <translation>▶ 继续</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="366" />
        <source>The run is paused (its memory and place are kept); go on training (Ctrl+P)</source>
        <translation>运行已暂停（保留其内存和进度）；继续训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="368" />
        <source>‖ Pausing…</source>
        <translation>‖ 正在暂停…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="369" />
        <source>Pause the run after its current step, keeping its memory and place; Continue goes on (Ctrl+P)</source>
        <translation>在当前步之后暂停运行，保留其内存和进度；“继续”接着训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="374" />
        <source>&amp;Continue</source>
        <translation>继续(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="422" />
        <source>Coloured {0} tree rows by where the adaptation went.</source>
        <translation>已按适配的位置为 {0} 行模块树着色。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="433" />
        <source>Stop run {0}? It writes a checkpoint first; Resume continues it.</source>
        <translation>停止运行 {0}？会先写入检查点；“恢复”可继续。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="436" />
        <source>stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="456" />
        <source>A run is training</source>
        <translation>有运行正在训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="457" />
        <source>Stop the run</source>
        <translation>停止运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="458" />
        <source>Keep it running in the background</source>
        <translation>在后台继续运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="462" />
        <source>Stop training</source>
        <translation>停止训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="472" />
        <source>Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? Reopening the project shows it again.</source>
        <translation>运行 {0} 正在训练。停止它（会写入检查点），还是让它在后台继续运行？重新打开项目时会再次显示它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="475" />
        <source>It is paused: kept in the background it stays paused until you reopen the project and continue it.</source>
        <translation>它已暂停：在后台保留时会一直暂停，直到你重新打开项目并继续它。</translation>
    </message>
</context>
</TS>