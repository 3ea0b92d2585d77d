<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>AboutDialog</name>
    <message>
        <location filename="../../studio/help.py" line="122" />
        <source>About Adapter Studio</source>
        <translation>关于 Adapter Studio</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="126" />
        <source>The studio</source>
        <translation>工作室界面</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="126" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="127" />
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="127" />
        <source>The adapter engine</source>
        <translation>适配器引擎</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="128" />
        <source>The project file</source>
        <translation>项目文件</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="135" />
        <source>the docs/ folder of Adapter Studio's source (this installation has no copy)</source>
        <translation>Adapter Studio 源代码中的 docs/ 文件夹（此安装中没有副本）</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="138" />
        <source>Parameter-efficient fine-tuning of language models on the desktop.</source>
        <translation>在桌面上对语言模型进行参数高效微调。</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="139" />
        <source>Licence: {0}</source>
        <translation>许可证：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="140" />
        <source>Documentation: {0}</source>
        <translation>文档：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="141" />
        <source>Press F1 anywhere in the window for the part of the docs about it.</source>
        <translation>在窗口任意位置按 F1，即可打开与该处相关的文档章节。</translation>
    </message>
</context>
<context>
    <name>AdaptationView</name>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="120" />
        <source>Show where the adaptation went</source>
        <translation>显示适配发生在哪里</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="125" />
        <location filename="../../studio/widgets/adaptation.py" line="161" />
        <source>After a LoRA-family run: the size of each module's learned update, per block.</source>
        <translation>LoRA 系列运行之后：每个模块学到的更新量大小，按块显示。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="128" />
        <source>Checkpoint:</source>
        <translation>检查点：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="188" />
        <source>final</source>
        <translation>最终</translation>
    </message>
</context>
<context>
    <name>CostPanel</name>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="107" />
        <source>Parameters</source>
        <translation>参数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="109" />
        <source>trainable</source>
        <translation>可训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="110" />
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="111" />
        <source>trainable %</source>
        <translation>可训练 %</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="126" />
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
        <location filename="../../studio/widgets/cost_panel.py" line="133" />
        <source>Training memory (estimate)</source>
        <translation>训练内存（估算）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="135" />
        <source>batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="136" />
        <source>sequence length</source>
        <translation>序列长度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="137" />
        <source>dtype</source>
        <translation>数据类型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="139" />
        <source>total</source>
        <translation>总计</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="189" />
        <source>(+{0} under 1 %)</source>
        <translation>（另有 {0} 项低于 1 %）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="197" />
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="198" />
        <source>adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="199" />
        <source>gradients</source>
        <translation>梯度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="200" />
        <source>optimizer</source>
        <translation>优化器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="201" />
        <source>activations</source>
        <translation>激活</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="202" />
        <source>workspace</source>
        <translation>工作区</translation>
    </message>
</context>
<context>
    <name>DataPanel</name>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="99" />
        <source>a .jsonl, .json, .csv or .parquet file, a save_to_disk folder, or a cached hub id</source>
        <translation>.jsonl、.json、.csv 或 .parquet 文件，save_to_disk 文件夹，或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="100" />
        <source>Choose file…</source>
        <translation>选择文件…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="106" />
        <source>auto: told from the columns; or say which layout the records have</source>
        <translation>auto：根据列判断；或指定记录的布局</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="115" />
        <source>prompt</source>
        <translation>提示</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="116" />
        <source>completion</source>
        <translation>补全</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="117" />
        <source>messages</source>
        <translation>消息</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="118" />
        <source>text</source>
        <translation>文本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="121" />
        <source>The column with the prompt (the context, not trained on)</source>
        <translation>包含提示的列（作为上下文，不参与训练）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="122" />
        <source>The column with the answer to learn</source>
        <translation>包含要学习的回答的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="123" />
        <source>The column with the list of {role, content} messages</source>
        <translation>包含 {role, content} 消息列表的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="124" />
        <source>The column with the raw text</source>
        <translation>包含原始文本的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="126" />
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="129" />
        <source>file</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="130" />
        <source>format</source>
        <translation>格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="141" />
        <source>alpaca layout: instruction (+ input) is the prompt, output the completion. Pick columns above to use others.</source>
        <translation>alpaca 布局：instruction（+ input）为提示，output 为补全。在上方选择列可改用其他列。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="155" />
        <source>Preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="244" />
        <source>Choose a dataset</source>
        <translation>选择数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="244" />
        <source>Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)</source>
        <translation>数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="367" />
        <source>detected: {0}</source>
        <translation>检测到：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="369" />
        <source>no format fits: pick the columns</source>
        <translation>没有合适的格式：请选择列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="395" />
        <source>alpaca: instruction + input</source>
        <translation>alpaca：instruction + input</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="395" />
        <source>alpaca: output</source>
        <translation>alpaca：output</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="399" />
        <source>{0} (not in the file)</source>
        <translation>{0}（不在文件中）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="438" />
        <source>format: {0} · {1} examples</source>
        <translation>格式：{0} · {1} 个样本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="458" />
        <source>tokens per example</source>
        <translation>每个样本的 token 数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="459" />
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
    <name>Help</name>
    <message>
        <location filename="../../studio/help.py" line="109" />
        <source>No documentation folder in this installation: see the docs/ folder of Adapter Studio's source.</source>
        <translation>此安装中没有文档文件夹：请查看 Adapter Studio 源代码中的 docs/ 文件夹。</translation>
    </message>
    <message>
        <location filename="../../studio/help.py" line="113" />
        <source>Opened {0}</source>
        <translation>已打开 {0}</translation>
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
        <location filename="../../studio/widgets/launch_dialog.py" line="154" />
        <source>none (fp32)</source>
        <translation>无 (fp32)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="165" />
        <source>One process: Start trains with the bundle's own worker (no accelerate launch).</source>
        <translation>单进程：“开始”用安装包自带的工作进程训练（不经 accelerate launch）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="168" />
        <source>resumes run {0}</source>
        <translation>恢复运行 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="168" />
        <source>creates a new run</source>
        <translation>创建一个新运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="169" />
        <source>Start {0} and writes the config and a launch script beside its checkpoints ({1}, {2}).</source>
        <translation>“开始”会{0}，并在其检查点旁写入配置和启动脚本（{1}、{2}）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="189" />
        <source>Save accelerate config</source>
        <translation>保存 accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="189" />
        <source>YAML (*.yaml *.yml)</source>
        <translation>YAML (*.yaml *.yml)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="197" />
        <source>Save launch script</source>
        <translation>保存启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="197" />
        <source>Shell script (*.sh)</source>
        <translation>Shell 脚本 (*.sh)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="208" />
        <source>Could not write {0}: {1}</source>
        <translation>无法写入 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="210" />
        <source>Saved {0}</source>
        <translation>已保存 {0}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../studio/main_window.py" line="164" />
        <source>A built-in name, a model folder, a .gguf file or a cached hub id</source>
        <translation>内置名称、模型文件夹、.gguf 文件或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="166" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="168" />
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="169" />
        <source>Open a Hugging Face model folder (config.json + *.safetensors)</source>
        <translation>打开 Hugging Face 模型文件夹（config.json + *.safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="170" />
        <source>.gguf…</source>
        <translation>.gguf…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="171" />
        <source>Open a .gguf model file</source>
        <translation>打开 .gguf 模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="185" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="186" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="187" />
        <source>Data</source>
        <translation>数据</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="210" />
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="232" />
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="233" />
        <source>&amp;New…</source>
        <translation>新建(&amp;N)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="234" />
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="235" />
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="236" />
        <source>Save &amp;As…</source>
        <translation>另存为(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="237" />
        <source>Recent projects</source>
        <translation>最近的项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="239" />
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="240" />
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="241" />
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="243" />
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="247" />
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="248" />
        <source>Focus the tree filter</source>
        <translation>聚焦到模块树筛选框</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="253" />
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="255" />
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="264" />
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="265" />
        <source>&amp;Documentation</source>
        <translation>文档(&amp;D)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="269" />
        <source>&amp;About Adapter Studio</source>
        <translation>关于 Adapter Studio(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="280" />
        <source>The language changes the next time Adapter Studio starts.</source>
        <translation>语言将在下次启动 Adapter Studio 时更改。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="380" />
        <source>Cannot open project</source>
        <translation>无法打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="404" />
        <location filename="../../studio/main_window.py" line="464" />
        <location filename="../../studio/main_window.py" line="587" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="467" />
        <source>Saved — the project saves itself as you edit.</source>
        <translation>已保存——项目会在编辑时自动保存。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="470" />
        <source>New project</source>
        <translation>新建项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="477" />
        <source>Open project</source>
        <translation>打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="486" />
        <source>Save project as</source>
        <translation>项目另存为</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="504" />
        <source>Model folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="509" />
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="519" />
        <source>Building the skeleton of {0}…</source>
        <translation>正在构建 {0} 的骨架…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="520" />
        <source>Loading {0}…</source>
        <translation>正在加载 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="532" />
        <source>{0}: {1:,} parameters</source>
        <translation>{0}：{1:,} 个参数</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="554" />
        <source>The methods could not be loaded: {0}</source>
        <translation>无法加载方法：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="580" />
        <source>adaption prompt adapts this attention module</source>
        <translation>adaption prompt 会适配此注意力模块</translation>
    </message>
</context>
<context>
    <name>Messages</name>
    <message>
        <location filename="../../studio/messages.py" line="27" />
        <source>{path} is not a Hugging Face model folder: it has no config.json. Choose the folder that holds config.json and the *.safetensors weights, a .gguf file, a hub id in the local cache or a built-in name.</source>
        <translation>{path} 不是 Hugging Face 模型文件夹：其中没有 config.json。请选择包含 config.json 和 *.safetensors 权重的文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="31" />
        <source>The hub id '{id}' is not in the local Hugging Face cache, and Adapter Studio never downloads models itself. On a machine with network, run `hf download {id}` and copy the cache over, or clone https://huggingface.co/{id} and choose that folder.</source>
        <translation>Hub ID '{id}' 不在本地 Hugging Face 缓存中，而 Adapter Studio 从不自行下载模型。请在联网的机器上运行 `hf download {id}` 并把缓存复制过来，或克隆 https://huggingface.co/{id} 后选择该文件夹。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="35" />
        <source>Unknown model reference '{ref}'. Choose a model folder, a .gguf file, a hub id in the local cache or a built-in name (smollm2-135m-instruct, bloomz-560m, tiny-bloom, tiny-llama, tiny-gpt2).</source>
        <translation>未知的模型引用 '{ref}'。请选择模型文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称（smollm2-135m-instruct、bloomz-560m、tiny-bloom、tiny-llama、tiny-gpt2）。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="39" />
        <source>There is no file or folder at {path}. Check the path.</source>
        <translation>{path} 处没有文件或文件夹。请检查路径。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="41" />
        <source>The model reference is empty: choose a model.</source>
        <translation>模型引用为空：请选择一个模型。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="43" />
        <source>{file}, line {line}, column {col}: not valid JSON.</source>
        <translation>{file}，第 {line} 行第 {col} 列：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="45" />
        <source>{file}, line {line}: not valid JSON.</source>
        <translation>{file}，第 {line} 行：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="47" />
        <source>target_modules entry '{name}' matches no module of this model. Closest real names: {close}.</source>
        <translation>target_modules 中的 '{name}' 不匹配此模型的任何模块。最接近的实际名称：{close}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="50" />
        <source>{field} must be a whole number ≥ {min}, got {got}.</source>
        <translation>{field} 必须是 ≥ {min} 的整数，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="52" />
        <source>{field} must be in {range}, not {got}.</source>
        <translation>{field} 必须在 {range} 之内，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="54" />
        <source>{field} must be positive, not {got}.</source>
        <translation>{field} 必须为正数，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="56" />
        <source>{field} must be a number, not {got}.</source>
        <translation>{field} 必须是数字，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="58" />
        <source>{field}: not valid JSON.</source>
        <translation>{field}：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="60" />
        <source>Set max_steps ≥ 1 or num_epochs &gt; 0.</source>
        <translation>请设置 max_steps ≥ 1 或 num_epochs &gt; 0。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="62" />
        <source>not a valid regular expression: {why}</source>
        <translation>不是有效的正则表达式：{why}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="65" />
        <source>{method} adapts {kinds} layers, not {cls}.</source>
        <translation>{method} 只能适配 {kinds} 层，不能适配 {cls}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="67" />
        <source>Adaption prompt adapts whole attention modules of Llama, Mistral, GPT-2 and Bloom blocks.</source>
        <translation>Adaption prompt 适配 Llama、Mistral、GPT-2 和 Bloom 块中的整个注意力模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="69" />
        <source>{method} adds virtual tokens in front of the input; it does not adapt individual modules.</source>
        <translation>{method} 在输入前添加虚拟 token；它不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="71" />
        <source>Prefix tuning adds learned keys and values to every attention layer; it does not adapt individual modules.</source>
        <translation>Prefix tuning 为每个注意力层添加学习到的键和值；它不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="75" />
        <source>Prompt tuning learns virtual tokens in front of the input; it adapts no module.</source>
        <translation>Prompt tuning 学习输入前的虚拟 token；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="77" />
        <source>P-tuning learns virtual tokens (through a small prompt encoder); it adapts no module.</source>
        <translation>P-tuning（通过一个小型提示编码器）学习虚拟 token；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="79" />
        <source>Prefix tuning learns key/value prefixes for every attention layer; it adapts no module.</source>
        <translation>Prefix tuning 为每个注意力层学习键/值前缀；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="81" />
        <source>Adaption prompt adds gated prompts to the top attention layers; it adapts no module.</source>
        <translation>Adaption prompt 为顶部的注意力层添加门控提示；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="83" />
        <source>{method} does not adapt individual modules.</source>
        <translation>{method} 不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="89" />
        <source>Training failed at step {step}: {rest}</source>
        <translation>训练在第 {step} 步失败：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="90" />
        <source>Training failed: {rest}</source>
        <translation>训练失败：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="91" />
        <source>The model could not be loaded: {rest}</source>
        <translation>无法加载模型：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="92" />
        <source>The dataset cannot be used: {rest}</source>
        <translation>无法使用数据集：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="94" />
        <source>The run's settings are not valid: {rest}</source>
        <translation>运行的设置无效：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="95" />
        <source>Training could not start: {rest}</source>
        <translation>训练无法开始：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="99" />
        <source>The model could not be loaded.</source>
        <translation>无法加载模型。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="100" />
        <source>The dataset cannot be used.</source>
        <translation>无法使用数据集。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="101" />
        <source>A setting is not valid.</source>
        <translation>某项设置无效。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="102" />
        <source>The project file cannot be used.</source>
        <translation>无法使用项目文件。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="103" />
        <source>The export failed.</source>
        <translation>导出失败。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="104" />
        <source>Out of memory.</source>
        <translation>内存不足。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="105" />
        <source>Something went wrong.</source>
        <translation>出错了。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="109" />
        <source>Lower the batch size or max_length, or turn on gradient checkpointing, then Resume or train again.</source>
        <translation>请减小批大小或 max_length，或打开梯度检查点，然后恢复或重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="111" />
        <source>Lower the learning rate (or use more warm-up steps), then train again.</source>
        <translation>请降低学习率（或使用更多预热步数），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="112" />
        <source>Fix the dataset (the Data tab's Preview shows the problem), then train again.</source>
        <translation>请修正数据集（“数据”页的预览会显示问题），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="113" />
        <source>Change the setting named above, then train again.</source>
        <translation>请修改上面提到的设置，然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="114" />
        <source>Check the model reference (folder, .gguf file, built-in name), then train again.</source>
        <translation>请检查模型引用（文件夹、.gguf 文件、内置名称），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="115" />
        <source>See the log below for details; Resume continues from the last checkpoint if there is one.</source>
        <translation>详情见下方日志；若有检查点，“恢复”会从最近的检查点继续。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="145" />
        <source>, </source>
        <translation>、</translation>
    </message>
</context>
<context>
    <name>MethodForm</name>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="51" />
        <source>loading methods…</source>
        <translation>正在加载方法…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="60" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
</context>
<context>
    <name>ModuleTree</name>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="109" />
        <source>Filter: name or regex (F)</source>
        <translation>筛选：名称或正则表达式 (F)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="123" />
        <source>Module</source>
        <translation>模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="123" />
        <source>Class</source>
        <translation>类</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="123" />
        <source>Shape</source>
        <translation>形状</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="123" />
        <source>Params</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="138" />
        <source>Only this block</source>
        <translation>仅此块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="145" />
        <source>block</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="151" />
        <source>all layers</source>
        <translation>所有层</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="158" />
        <source>Layers:</source>
        <translation>层：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="160" />
        <source>from</source>
        <translation>从</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="162" />
        <source>to</source>
        <translation>到</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="166" />
        <source>target_modules: names (q_proj, v_proj) or a regex</source>
        <translation>target_modules：名称（q_proj, v_proj）或正则表达式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="171" />
        <source>Targets:</source>
        <translation>目标：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="220" />
        <source>{0} · {1} · {2} parameters</source>
        <translation type="unfinished" />
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="222" />
        <source>architecture only: no weights (inspect and estimate; it cannot be trained — open a folder of the real model to train it)</source>
        <translation type="unfinished" />
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="331" />
        <source>no model</source>
        <translation>没有模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="336" />
        <source>{0} does not target modules of the tree.</source>
        <translation>{0} 不以模块树中的模块为目标。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="435" />
        <source>'{0}' matches no module (closest: {1})</source>
        <translation>'{0}' 不匹配任何模块（最接近：{1}）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="437" />
        <source>'{0}' matches no module</source>
        <translation>'{0}' 不匹配任何模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="440" />
        <source>{0} cannot adapt {1}: {2}</source>
        <translation>{0} 无法适配 {1}：{2}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="443" />
        <source>layers_to_transform only works with a name list, not a regex</source>
        <translation>layers_to_transform 只能与名称列表一起使用，不能与正则表达式一起使用</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="445" />
        <source>these targets select no module</source>
        <translation>这些目标没有选中任何模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="463" />
        <source>Use {0} (the same modules in this model)</source>
        <translation type="unfinished" />
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="464" />
        <source>The targets name modules of another architecture; these have the same roles (attention query/key/value/output, MLP) here.</source>
        <translation type="unfinished" />
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="512" />
        <source>Untick {0}</source>
        <translation>取消勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="515" />
        <source>Tick in all {0} blocks</source>
        <translation>在全部 {0} 个块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="518" />
        <location filename="../../studio/widgets/module_tree.py" line="533" />
        <source>Tick only in block {0}</source>
        <translation>仅在第 {0} 块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="520" />
        <source>Tick {0}</source>
        <translation>勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="534" />
        <source>Tick only in block</source>
        <translation>仅在某一块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="562" />
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
        <location filename="../../studio/widgets/playground.py" line="170" />
        <source>No checkpoint yet: train a run first.</source>
        <translation>还没有检查点：请先训练一次。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="187" />
        <source>Loading {0} with {1}…</source>
        <translation>正在加载 {0} 和 {1}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="216" />
        <source>Done.</source>
        <translation>完成。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="216" />
        <source> The adapter did not change this answer.</source>
        <translation> 适配器没有改变这个回答。</translation>
    </message>
</context>
<context>
    <name>RunStatus</name>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="42" />
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="42" />
        <source>● running</source>
        <translation>● 运行中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="43" />
        <source>✓ completed</source>
        <translation>✓ 已完成</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="43" />
        <source>‖ paused</source>
        <translation>‖ 已暂停</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="44" />
        <source>■ stopped</source>
        <translation>■ 已停止</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="44" />
        <source>✗ failed</source>
        <translation>✗ 失败</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="45" />
        <source>✗ crashed / interrupted</source>
        <translation>✗ 崩溃 / 中断</translation>
    </message>
</context>
<context>
    <name>RunView</name>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="132" />
        <location filename="../../studio/widgets/run_view.py" line="256" />
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="137" />
        <source>Resume from last checkpoint</source>
        <translation>从最近的检查点恢复</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="140" />
        <source>Save plot…</source>
        <translation>保存图表…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="141" />
        <source>Save the curves as PNG or SVG</source>
        <translation>将曲线保存为 PNG 或 SVG</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="144" />
        <location filename="../../studio/widgets/run_view.py" line="261" />
        <source>no run</source>
        <translation>无运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="149" />
        <source>The worker's log appears here.</source>
        <translation>工作进程的日志显示在这里。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="341" />
        <source>after step {0}; Continue (Ctrl+P) goes on, Stop writes a checkpoint</source>
        <translation>在第 {0} 步之后；“继续”(Ctrl+P) 接着训练，“停止”会写入检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="350" />
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="452" />
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
        <location filename="../../studio/training.py" line="76" />
        <location filename="../../studio/training.py" line="86" />
        <source>Runs</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="80" />
        <source>Playground</source>
        <translation>试用</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="84" />
        <source>Where it adapted</source>
        <translation>适配位置</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="91" />
        <source>▶ Train</source>
        <translation>▶ 训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="92" />
        <source>Start a training run in a worker process (Ctrl+Enter)</source>
        <translation>在工作进程中开始一次训练 (Ctrl+Enter)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="93" />
        <source>■ Stop</source>
        <translation>■ 停止</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="94" />
        <source>Checkpoint and stop the run (Esc)</source>
        <translation>写入检查点并停止运行 (Esc)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="96" />
        <location filename="../../studio/training.py" line="376" />
        <source>‖ Pause</source>
        <translation>‖ 暂停</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="107" />
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="108" />
        <source>&amp;Train</source>
        <translation>训练(&amp;T)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="110" />
        <source>&amp;Stop</source>
        <translation>停止(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="113" />
        <location filename="../../studio/training.py" line="382" />
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="116" />
        <source>&amp;Resume selected run</source>
        <translation>恢复所选运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="118" />
        <source>&amp;Export…</source>
        <translation>导出(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="119" />
        <source>Save &amp;plot…</source>
        <translation>保存图表(&amp;P)…</translation>
    </message>
    <message>
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="246" />
        <source>A run is training; stop it first.</source>
        <translation>有运行正在训练；请先停止它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="251" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="256" />
        <source>Looking for GPUs…</source>
        <translation>正在查找 GPU…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="265" />
        <source>Cannot train</source>
        <translation>无法训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="270" />
        <source>starting the worker…</source>
        <translation>正在启动工作进程…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="301" />
        <source>Saved the {0}: {1}</source>
        <translation>已保存{0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="301" />
        <source>launch script</source>
        <translation>启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="301" />
        <source>accelerate config</source>
        <translation>accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="373" />
        <source>▶ Continuing…</source>
        <translation>▶ 正在继续…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="373" />
        <source>▶ Continue</source>
        <translation>▶ 继续</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="374" />
        <source>The run is paused (its memory and place are kept); go on training (Ctrl+P)</source>
        <translation>运行已暂停（保留其内存和进度）；继续训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="376" />
        <source>‖ Pausing…</source>
        <translation>‖ 正在暂停…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="377" />
        <source>Pause the run after its current step, keeping its memory and place; Continue goes on (Ctrl+P)</source>
        <translation>在当前步之后暂停运行，保留其内存和进度；“继续”接着训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="382" />
        <source>&amp;Continue</source>
        <translation>继续(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="414" />
        <source>run {0}: {1}</source>
        <translation>运行 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="431" />
        <source>Coloured {0} tree rows by where the adaptation went.</source>
        <translation>已按适配的位置为 {0} 行模块树着色。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="442" />
        <source>Stop run {0}? It writes a checkpoint first; Resume continues it.</source>
        <translation>停止运行 {0}？会先写入检查点；“恢复”可继续。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="445" />
        <source>stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="466" />
        <source>A run is training</source>
        <translation>有运行正在训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="467" />
        <source>Stop the run</source>
        <translation>停止运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="468" />
        <source>Keep it running in the background</source>
        <translation>在后台继续运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="472" />
        <source>Stop training</source>
        <translation>停止训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="482" />
        <source>Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? Reopening the project shows it again.</source>
        <translation>运行 {0} 正在训练。停止它（会写入检查点），还是让它在后台继续运行？重新打开项目时会再次显示它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="485" />
        <source>It is paused: kept in the background it stays paused until you reopen the project and continue it.</source>
        <translation>它已暂停：在后台保留时会一直暂停，直到你重新打开项目并继续它。</translation>
    </message>
</context>
<context>
    <name>_ReadOnlyBanner</name>
    <message>
        <location filename="../../studio/main_window.py" line="737" />
        <source>Show that window</source>
        <translation>显示那个窗口</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="738" />
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="739" />
        <source>Open the project for editing if no other window has it open any more</source>
        <translation>若已没有其他窗口打开此项目，则以可编辑方式重新打开</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="752" />
        <source>another window of Adapter Studio has this project open; only that window can change it.</source>
        <translation>Adapter Studio 的另一个窗口已打开此项目；只有那个窗口可以修改它。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="754" />
        <source>the project's lock file cannot be written ({0}).</source>
        <translation>无法写入项目的锁文件（{0}）。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="756" />
        <source>Adapter Studio (process {0} on {1}, since {2}) has this project open; only that window can change it.</source>
        <translation>Adapter Studio（{1} 上的进程 {0}，自 {2} 起）已打开此项目；只有那个窗口可以修改它。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="764" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
</context>
</TS>