<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>ABView</name>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="76" />
        <source>Start blind comparison</source>
        <translation>开始盲评</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="77" />
        <source>Choose two models, then Start: both answer the evaluation prompts.</source>
        <translation>选择两个模型，然后点击开始：两者都会回答评估提示。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="83" />
        <source>A is better (A)</source>
        <translation>A 更好 (A)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="84" />
        <source>Tie (T)</source>
        <translation>平局 (T)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="85" />
        <source>B is better (B)</source>
        <translation>B 更好 (B)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="87" />
        <source>Automatic judge (optional): an OpenAI-compatible endpoint</source>
        <translation>自动评判（可选）：兼容 OpenAI 的接口</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="89" />
        <source>The API's base address: llama.cpp's llama-server, Ollama (…:11434/v1) or a hosted API</source>
        <translation>API 的基础地址：llama.cpp 的 llama-server、Ollama（…:11434/v1）或托管 API</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="91" />
        <source>the model name the server knows</source>
        <translation>服务器上的模型名称</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="94" />
        <source>API key, if it needs one (kept in your config folder, never in the project)</source>
        <translation>API 密钥（如需要；保存在你的配置文件夹中，绝不写入项目）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="96" />
        <source>The judge prompt; it is asked twice per prompt, with the answers in both orders</source>
        <translation>评判提示；每条提示会以两种回答顺序各询问一次</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="97" />
        <source>Ask the judge</source>
        <translation>请评判模型判定</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="100" />
        <source>Endpoint:</source>
        <translation>接口：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="101" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="102" />
        <source>Key:</source>
        <translation>密钥：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="103" />
        <source>Prompt:</source>
        <translation>提示：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="111" />
        <source>Model 1:</source>
        <translation>模型 1：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="113" />
        <source>Model 2:</source>
        <translation>模型 2：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="117" />
        <source>Answer A</source>
        <translation>回答 A</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="117" />
        <source>Answer B</source>
        <translation>回答 B</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="158" />
        <source>base model</source>
        <translation>基础模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="184" />
        <source>Choose two different models.</source>
        <translation>请选择两个不同的模型。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="197" />
        <source>The run has no evaluation prompts recorded (it needs a validation set and eval_samples &gt; 0).</source>
        <translation>该运行没有记录评估提示（需要验证集且 eval_samples &gt; 0）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="202" />
        <source>Both models are answering {0} prompts…</source>
        <translation>两个模型正在回答 {0} 条提示…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="209" />
        <source>The models could not answer: {0}</source>
        <translation>模型无法作答：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="232" />
        <source>Prompt {0} of {1}: which answer is better? Keys A, B, or T for a tie.</source>
        <translation>第 {0} 条提示，共 {1} 条：哪个回答更好？按 A、B，平局按 T。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="259" />
        <source>Start a comparison and name the judge's model first.</source>
        <translation>请先开始一次比较，并填写评判模型的名称。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="263" />
        <source>The judge is deciding {0} prompts, each in both orders…</source>
        <translation>评判模型正在判定 {0} 条提示，每条两种顺序…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="277" />
        <source>The judge could not decide: {0}</source>
        <translation>评判模型无法判定：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="296" />
        <source>{0}: {1} wins {2:.0%} (95 % interval {3:.0%}–{4:.0%}) over {5} prompts; {6} {7}, {8} {9}, ties {10}.</source>
        <translation>{0}：{1} 胜率 {2:.0%}（95 % 区间 {3:.0%}–{4:.0%}），共 {5} 条提示；{6} {7}，{8} {9}，平局 {10}。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="300" />
        <source>tie</source>
        <translation>平局</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/ab_view.py" line="300" />
        <source>preferred</source>
        <translation>更优</translation>
    </message>
</context>
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
        <location filename="../../studio/widgets/adaptation.py" line="100" />
        <source>Show where the adaptation went</source>
        <translation>显示适配发生在哪里</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="105" />
        <location filename="../../studio/widgets/adaptation.py" line="141" />
        <source>After a LoRA-family run: the size of each module's learned update, per block.</source>
        <translation>LoRA 系列运行之后：每个模块学到的更新量大小，按块显示。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="108" />
        <source>Checkpoint:</source>
        <translation>检查点：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/adaptation.py" line="168" />
        <source>final</source>
        <translation>最终</translation>
    </message>
</context>
<context>
    <name>CombineDialog</name>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="51" />
        <source>linear — adds the A and B matrices (same rank); cheap, approximate</source>
        <translation>linear——把 A 矩阵与 B 矩阵分别相加（秩须相同）；计算量小，结果近似</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="52" />
        <source>cat — exact weighted sum of the updates; the ranks add up</source>
        <translation>cat——各更新的精确加权和；秩相加</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="53" />
        <source>svd — weighted sum of the updates, refactorised to a chosen rank</source>
        <translation>svd——各更新的加权和，再分解到选定的秩</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="54" />
        <source>ties — prune, keep the majority sign, average (same rank)</source>
        <translation>ties——剪枝，保留多数符号，再取平均（秩须相同）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="55" />
        <source>dare_linear — random pruning with rescaling, then linear (same rank)</source>
        <translation>dare_linear——随机剪枝并重新缩放，再按 linear 合并（秩须相同）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="56" />
        <source>dare_ties — random pruning with rescaling, then ties (same rank)</source>
        <translation>dare_ties——随机剪枝并重新缩放，再按 ties 合并（秩须相同）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="57" />
        <source>magnitude_prune — keep the largest values, then linear (same rank)</source>
        <translation>magnitude_prune——保留绝对值最大的值，再按 linear 合并（秩须相同）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="78" />
        <source>Combine runs</source>
        <translation>合并运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="79" />
        <source>Make one adapter from finished runs on the same base model, each with a weight (a negative weight subtracts). Preview it in the playground, then save it as a new run that exports like any other.</source>
        <translation>把同一基础模型上已完成的运行合并成一个适配器，每个运行带一个权重（负权重表示减去）。先在试验场中预览，再保存为新的运行，可以像其他运行一样导出。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="85" />
        <source>run</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="85" />
        <source>method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="85" />
        <source>rank</source>
        <translation>秩</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="85" />
        <source>weight</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="98" />
        <source>status {0}</source>
        <translation>状态 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="119" />
        <source>{0} — the {1} rule on the full updates, then svd</source>
        <translation>{0}——对完整更新应用 {1} 规则，再做 svd 分解</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="126" />
        <source>The fraction of each tensor's values kept before combining</source>
        <translation>合并前每个张量保留的值所占比例</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="128" />
        <source>total — the sign of the weighted sum</source>
        <translation>total——取加权和的符号</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="129" />
        <source>frequency — the more frequent sign</source>
        <translation>frequency——取出现更多的符号</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="132" />
        <source>the largest rank of the runs</source>
        <translation>各运行中最大的秩</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="141" />
        <source>Combination</source>
        <translation>合并方式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="142" />
        <source>Density</source>
        <translation>密度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="143" />
        <source>Majority sign</source>
        <translation>多数符号</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="144" />
        <source>SVD rank</source>
        <translation>SVD 秩</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="145" />
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="152" />
        <source>Preview in the playground</source>
        <translation>在试验场中预览</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="153" />
        <source>Save as new run</source>
        <translation>保存为新运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="174" />
        <source>No finished run with a checkpoint yet: train runs first (LoRA or IA3, on the same base model).</source>
        <translation>还没有带检查点的已完成运行：请先训练运行（LoRA 或 IA3，同一基础模型）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="243" />
        <source>{0} runs cannot be combined this way</source>
        <translation>{0} 的运行不能这样合并</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="271" />
        <source>Combining {0}…</source>
        <translation>正在合并 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="288" />
        <source>Preview (not saved): {0}</source>
        <translation>预览（未保存）：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="289" />
        <source>Ready in the playground: {0}. Save keeps exactly this adapter.</source>
        <translation>已可在试验场中使用：{0}。保存时保留的正是这个适配器。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="314" />
        <source>Saved as run {0}: {1}. Export it from the runs list like any run.</source>
        <translation>已保存为运行 {0}：{1}。可以像其他运行一样从运行列表导出。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/combine_dialog.py" line="327" />
        <source>The combination failed: {0}</source>
        <translation>合并失败：{0}</translation>
    </message>
</context>
<context>
    <name>CostPanel</name>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="108" />
        <source>Parameters</source>
        <translation>参数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="110" />
        <source>trainable</source>
        <translation>可训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="111" />
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="112" />
        <source>trainable %</source>
        <translation>可训练 %</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="127" />
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
        <location filename="../../studio/widgets/cost_panel.py" line="134" />
        <source>Training memory (estimate)</source>
        <translation>训练内存（估算）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="136" />
        <source>batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="137" />
        <source>sequence length</source>
        <translation>序列长度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="138" />
        <source>dtype</source>
        <translation>数据类型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="140" />
        <source>total</source>
        <translation>总计</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="192" />
        <source>(+{0} under 1 %)</source>
        <translation>（另有 {0} 项低于 1 %）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="200" />
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="201" />
        <source>adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="202" />
        <source>gradients</source>
        <translation>梯度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="203" />
        <source>optimizer</source>
        <translation>优化器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="204" />
        <source>activations</source>
        <translation>激活</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="205" />
        <source>workspace</source>
        <translation>工作区</translation>
    </message>
</context>
<context>
    <name>DataPanel</name>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="101" />
        <source>a .jsonl, .json, .csv or .parquet file, a save_to_disk folder, or a cached hub id</source>
        <translation>.jsonl、.json、.csv 或 .parquet 文件，save_to_disk 文件夹，或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="102" />
        <source>Choose file…</source>
        <translation>选择文件…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="109" />
        <source>auto: told from the columns; or say which layout the records have</source>
        <translation>auto：根据列判断；或指定记录的布局</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="118" />
        <source>prompt</source>
        <translation>提示</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="119" />
        <source>completion</source>
        <translation>补全</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="120" />
        <source>messages</source>
        <translation>消息</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="121" />
        <source>text</source>
        <translation>文本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="124" />
        <source>The column with the prompt (the context, not trained on)</source>
        <translation>包含提示的列（作为上下文，不参与训练）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="125" />
        <source>The column with the answer to learn</source>
        <translation>包含要学习的回答的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="126" />
        <source>The column with the list of {role, content} messages</source>
        <translation>包含 {role, content} 消息列表的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="127" />
        <source>The column with the raw text</source>
        <translation>包含原始文本的列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="129" />
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="132" />
        <source>file</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="133" />
        <source>format</source>
        <translation>格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="144" />
        <source>alpaca layout: instruction (+ input) is the prompt, output the completion. Pick columns above to use others.</source>
        <translation>alpaca 布局：instruction（+ input）为提示，output 为补全。在上方选择列可改用其他列。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="158" />
        <source>Preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="252" />
        <source>Choose a dataset</source>
        <translation>选择数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="252" />
        <source>Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)</source>
        <translation>数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="375" />
        <source>detected: {0}</source>
        <translation>检测到：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="377" />
        <source>no format fits: pick the columns</source>
        <translation>没有合适的格式：请选择列</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="403" />
        <source>alpaca: instruction + input</source>
        <translation>alpaca：instruction + input</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="403" />
        <source>alpaca: output</source>
        <translation>alpaca：output</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="407" />
        <source>{0} (not in the file)</source>
        <translation>{0}（不在文件中）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="446" />
        <source>format: {0} · {1} examples</source>
        <translation>格式：{0} · {1} 个样本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="466" />
        <source>tokens per example</source>
        <translation>每个样本的 token 数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="467" />
        <source>examples</source>
        <translation>样本数</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="53" />
        <source>eval loss</source>
        <translation>评估损失</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="53" />
        <source>exact match</source>
        <translation>完全匹配</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="54" />
        <source>contains</source>
        <translation>包含</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="54" />
        <source>token F1</source>
        <translation>词元 F1</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="55" />
        <source>ROUGE-L</source>
        <translation>ROUGE-L</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="143" />
        <source>Export run {0}</source>
        <translation>导出运行 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="145" />
        <source>Merged model (a plain Hugging Face model folder)</source>
        <translation>合并后的模型（普通的 Hugging Face 模型文件夹）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="146" />
        <source>Adapter only (PEFT's layout: adapter_config.json + safetensors)</source>
        <translation>仅适配器（PEFT 布局：adapter_config.json + safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="147" />
        <source>GGUF for llama.cpp / LM Studio (merged; checked in llama.cpp)</source>
        <translation>用于 llama.cpp / LM Studio 的 GGUF（合并；在 llama.cpp 中校验）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="148" />
        <source>LoRA adapter GGUF (llama.cpp --lora; checked on its base)</source>
        <translation>LoRA 适配器 GGUF（llama.cpp --lora；在其基座上校验）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="149" />
        <source>Ollama folder (GGUF + Modelfile)</source>
        <translation>Ollama 文件夹（GGUF + Modelfile）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="150" />
        <source>Serving-compatible adapter (one rank, scales baked in: vLLM, TGI / LoRAX)</source>
        <translation>适合推理服务的适配器（统一秩，缩放已并入权重：vLLM、TGI / LoRAX）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="151" />
        <source>A LoRA adapter copy that servers applying one alpha / r to every module compute exactly as the original (rsLoRA, rank and alpha patterns folded into the weights); checked by reloading it.</source>
        <translation>LoRA 适配器的副本：对所有模块使用同一个 alpha / r 的推理服务会得到与原适配器完全相同的结果（rsLoRA、各模块的秩与 alpha 已并入权重）；导出后重新加载校验。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="161" />
        <source>name for ollama create (optional)</source>
        <translation>ollama create 使用的名称（可选）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="184" />
        <source>The combined adapter</source>
        <translation>合并得到的适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="187" />
        <source>Final weights — step {0}</source>
        <translation>最终权重——第 {0} 步</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="187" />
        <source>Last checkpoint — step {0}</source>
        <translation>最后的检查点——第 {0} 步</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="189" />
        <source>Best by a metric the run evaluated</source>
        <translation>按运行评估过的指标选最佳</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="193" />
        <source>No checkpoint of this run was evaluated (eval_steps with checkpoints at the same steps).</source>
        <translation>此运行没有经过评估的检查点（需要设置 eval_steps，并在相同步数保存检查点）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="195" />
        <source>step {0} — {1}</source>
        <translation>第 {0} 步——{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="199" />
        <source>{0} (lowest)</source>
        <translation>{0}（越低越好）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="199" />
        <source>{0} (highest)</source>
        <translation>{0}（越高越好）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="200" />
        <source>What "best" ranks by: the run's checkpoints with this metric in the project file</source>
        <translation>“最佳”的排序依据：项目文件中带有此指标的本运行检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="210" />
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="216" />
        <source>Checkpoint</source>
        <translation>检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="217" />
        <source>Best by</source>
        <translation>最佳依据</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="219" />
        <source>Folder</source>
        <translation>文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="220" />
        <source>GGUF type</source>
        <translation>GGUF 类型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="221" />
        <source>Ollama name</source>
        <translation>Ollama 名称</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="228" />
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="233" />
        <source>This run has no checkpoint yet; train (or resume) it first.</source>
        <translation>此运行还没有检查点；请先训练（或恢复）它。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="253" />
        <source>Export to folder</source>
        <translation>导出到文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="267" />
        <source>No checkpoint of this run was evaluated.</source>
        <translation>此运行没有经过评估的检查点。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="269" />
        <source>Best by {0}: step {1} ({2}), score {3}</source>
        <translation>按{0}最佳：第 {1} 步（{2}），得分 {3}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="328" />
        <source>Writing {0}, then checking it in llama.cpp against our model…</source>
        <translation>正在写入 {0}，然后在 llama.cpp 中与我们的模型对照校验…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="337" />
        <source>a merged model</source>
        <translation>合并后的模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="337" />
        <source>a serving-compatible adapter</source>
        <translation>适合推理服务的适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="338" />
        <source>the adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/export_dialog.py" line="339" />
        <source>Writing {0}, then reloading it and comparing logits with the adapter model…</source>
        <translation>正在写入{0}，然后重新加载并与适配器模型比较 logits…</translation>
    </message>
</context>
<context>
    <name>FieldHelp</name>
    <message>
        <location filename="../../studio/field_help.py" line="16" />
        <source>What the model is for, e.g. CAUSAL_LM.</source>
        <translation>模型的用途，例如 CAUSAL_LM。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="17" />
        <source>The base model this adapter belongs to.</source>
        <translation>此适配器所属的基础模型。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="18" />
        <source>Revision of the base model.</source>
        <translation>基础模型的版本（revision）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="19" />
        <source>Loaded for inference only (adapter frozen).</source>
        <translation>仅用于推理加载（适配器冻结）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="20" />
        <source>Rank of the update matrices; more rank, more capacity and parameters.</source>
        <translation>更新矩阵的秩；秩越大，容量和参数越多。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="21" />
        <source>Scale numerator: the update is multiplied by alpha / r.</source>
        <translation>缩放分子：更新乘以 alpha / r。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="22" />
        <source>Dropout on the adapter's input during training, in [0, 1).</source>
        <translation>训练时作用于适配器输入的 dropout，取值范围 [0, 1)。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="23" />
        <source>Modules to adapt: a list of names or name suffixes, a full-match regex, or 'all-linear'.</source>
        <translation>要适配的模块：名称或名称后缀的列表、完整匹配的正则表达式，或 'all-linear'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="24" />
        <source>Modules never adapted (wins over targets).</source>
        <translation>永不适配的模块（优先于目标）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="25" />
        <source>Only these block indices.</source>
        <translation>仅这些块的编号。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="26" />
        <source>Name of the block list (e.g. 'layers', 'h') that layers_to_transform indexes.</source>
        <translation>layers_to_transform 所索引的块列表名称（例如 'layers'、'h'）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="27" />
        <source>Also train biases: 'none', 'all', or 'lora_only'.</source>
        <translation>同时训练偏置：'none'、'all' 或 'lora_only'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="28" />
        <source>Modules trained in full and saved with the adapter (e.g. a new head).</source>
        <translation>完整训练并随适配器一起保存的模块（例如新的输出头）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="30" />
        <source>The layer stores its weight as (in, out), like GPT-2's Conv1D.</source>
        <translation>该层以 (in, out) 形式存储权重，如 GPT-2 的 Conv1D。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="31" />
        <source>Scale by alpha / sqrt(r) (rank-stabilised LoRA).</source>
        <translation>按 alpha / sqrt(r) 缩放（秩稳定的 LoRA）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="32" />
        <source>Weight-decomposed LoRA: also learn a per-output magnitude.</source>
        <translation>权重分解的 LoRA：额外学习每个输出的幅度。</translation>
    </message>
    <message>
        <source>True: A random, B zero. 'gaussian': A normal(1/r). 'pissa': from the weight's SVD. False: both random.</source>
        <translation type="vanished">True：A 随机、B 为零。'gaussian'：A 服从 normal(1/r)。'pissa'：来自权重的 SVD。False：两者都随机。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="34" />
        <source>Per-module rank overrides, name/regex -&gt; r.</source>
        <translation>按模块覆盖秩，名称/正则表达式 -&gt; r。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="35" />
        <source>Per-module alpha overrides.</source>
        <translation>按模块覆盖 alpha。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="36" />
        <source>Give lora_B a trainable bias (out,), scaled like the update; merging adds it to the layer's bias.</source>
        <translation>给 lora_B 加一个可训练的偏置 (out,)，与更新同样缩放；合并时加到该层的偏置上。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="37" />
        <source>Token ids whose rows of the input embedding train (e.g. newly added tokens), or per embedding module: its name mapped to a list of ids.</source>
        <translation>要训练其输入嵌入行的 token id（例如新加入的 token），或按嵌入模块给出：模块名对应一个 id 列表。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="38" />
        <source>Parameters to adapt by name or name suffix, e.g. 'experts.gate_up_proj' and 'experts.down_proj' for the experts of a MoE model (one update per expert).</source>
        <translation>按名称或名称后缀指定要适配的参数，例如 MoE 模型专家的 'experts.gate_up_proj' 和 'experts.down_proj'（每个专家一个更新）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="39" />
        <source>How many virtual tokens to learn (≥ 1).</source>
        <translation>要学习的虚拟 token 数量（≥ 1）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="40" />
        <source>Width of one virtual token; filled in from the model (hidden size).</source>
        <translation>单个虚拟 token 的宽度；根据模型填入（隐藏层大小）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="41" />
        <source>1 for decoder-only models (PEFT: 2 for encoder-decoder); filled in.</source>
        <translation>仅解码器模型为 1（PEFT：编码器-解码器为 2）；自动填入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="42" />
        <source>Attention heads; filled in from the model.</source>
        <translation>注意力头数；根据模型填入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="43" />
        <source>Transformer blocks; filled in from the model.</source>
        <translation>Transformer 块数；根据模型填入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="44" />
        <source>RANDOM (normal noise), SAMPLE_VOCAB (embeddings of random tokens) or TEXT (of a given text).</source>
        <translation>RANDOM（正态噪声）、SAMPLE_VOCAB（随机 token 的嵌入）或 TEXT（给定文本的嵌入）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="45" />
        <source>The text whose token embeddings start the prompt (TEXT).</source>
        <translation>用其 token 嵌入来初始化提示的文本（TEXT）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="46" />
        <source>Tokenizer (folder or hub id) that splits prompt_tuning_init_text (TEXT).</source>
        <translation>用于切分 prompt_tuning_init_text 的分词器（文件夹或 Hub ID）（TEXT）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="47" />
        <source>Extra arguments for loading that tokenizer.</source>
        <translation>加载该分词器的额外参数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="48" />
        <source>The encoder that produces the virtual tokens: MLP (recommended) or LSTM.</source>
        <translation>生成虚拟 token 的编码器：MLP（推荐）或 LSTM。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="49" />
        <source>Hidden width h of the encoder; empty means the model's hidden size.</source>
        <translation>编码器的隐藏宽度 h；留空表示使用模型的隐藏层大小。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="50" />
        <source>LSTM layers (the MLP always has three Linear layers).</source>
        <translation>LSTM 层数（MLP 总是包含三个 Linear 层）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="51" />
        <source>Dropout between LSTM layers, in [0, 1).</source>
        <translation>LSTM 层之间的 dropout，取值范围 [0, 1)。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="52" />
        <source>Hidden width h of the projection MLP; empty means token_dim.</source>
        <translation>投影 MLP 的隐藏宽度 h；留空表示 token_dim。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="53" />
        <source>Produce the prefixes with a two-layer MLP (more parameters, steadier training).</source>
        <translation>用两层 MLP 生成前缀（参数更多，训练更稳定）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="54" />
        <source>None: random prefixes. 'zero': all-zero prefixes (or a zero last MLP layer).</source>
        <translation>None：随机前缀。'zero'：全零前缀（或最后一层 MLP 为零）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="55" />
        <source>Name of the attention modules in each block; filled in from the architecture.</source>
        <translation>每个块中注意力模块的名称；根据架构填入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="56" />
        <source>Learned prompt tokens per adapted layer (e.g. 10).</source>
        <translation>每个被适配层学习的提示 token 数（例如 10）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="57" />
        <source>How many of the top layers get a prompt (e.g. 8).</source>
        <translation>顶部有多少层获得提示（例如 8）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="58" />
        <source>Rank every adapted module starts with (r is ignored).</source>
        <translation>每个被适配模块的初始秩（忽略 r）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="59" />
        <source>Average rank per module at the end: the budget is target_r × modules.</source>
        <translation>结束时每个模块的平均秩：预算为 target_r × 模块数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="60" />
        <source>Warm-up optimizer steps before any rank is pruned.</source>
        <translation>在剪枝任何秩之前的预热优化步数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="61" />
        <source>Final optimizer steps trained with the rank pattern fixed.</source>
        <translation>在秩模式固定后训练的最后优化步数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="62" />
        <source>Re-allocate the ranks every deltaT steps during the budget phase.</source>
        <translation>在预算阶段每 deltaT 步重新分配一次秩。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="63" />
        <source>Moving-average factor of the sensitivity, in (0, 1).</source>
        <translation>敏感度的滑动平均系数，取值范围 (0, 1)。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="64" />
        <source>Moving-average factor of the uncertainty, in (0, 1).</source>
        <translation>不确定度的滑动平均系数，取值范围 (0, 1)。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="65" />
        <source>Weight of the orthogonality penalty added to the training loss (≥ 0).</source>
        <translation>加到训练损失上的正交惩罚权重（≥ 0）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="66" />
        <source>Number of optimizer steps of the whole run (required; &gt; tinit + tfinal).</source>
        <translation>整个运行的优化步数（必填；&gt; tinit + tfinal）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="67" />
        <source>Kept triplets per module ('&lt;path&gt;.lora_E' -&gt; init_r booleans); written by training.</source>
        <translation>每个模块保留的三元组（'&lt;path&gt;.lora_E' -&gt; init_r 个布尔值）；由训练写入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="68" />
        <source>Unused by AdaLoRA (init_r sets the rank); kept for PEFT's file format.</source>
        <translation>AdaLoRA 不使用（秩由 init_r 决定）；为兼容 PEFT 的文件格式而保留。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="69" />
        <source>Scale numerator: the update is multiplied by alpha / init_r.</source>
        <translation>缩放分子：更新乘以 alpha / init_r。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="70" />
        <source>True: E zero, A and B normal(0, 0.02) (starts equal to the base). False: all random.</source>
        <translation>True：E 为零，A 和 B 服从 normal(0, 0.02)（开始时与基础模型相同）。False：全部随机。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="71" />
        <source>Modules to rescale: a list of names or name suffixes, a full-match regex, or 'all-linear'. None: the architecture's usual ones (bloom: query_key_value + mlp.dense_4h_to_h).</source>
        <translation>要重新缩放的模块：名称或名称后缀的列表、完整匹配的正则表达式，或 'all-linear'。None：该架构的常用模块（bloom：query_key_value + mlp.dense_4h_to_h）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="72" />
        <source>Targets whose input (not output) is rescaled, as in the paper's MLP vector; must be among target_modules. None: the architecture's usual ones.</source>
        <translation>缩放其输入（而非输出）的目标，对应论文中的 MLP 向量；必须属于 target_modules。None：该架构的常用模块。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="73" />
        <source>Start the vectors at one (the model starts equal to the base). False: random.</source>
        <translation>向量初始化为 1（开始时模型与基础模型相同）。False：随机。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="74" />
        <source>Optimizer steps to take (ignored when num_epochs &gt; 0).</source>
        <translation>要执行的优化步数（num_epochs &gt; 0 时忽略）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="75" />
        <source>Passes over the training data; 0 = use max_steps.</source>
        <translation>遍历训练数据的轮数；0 = 使用 max_steps。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="76" />
        <source>Examples per micro-batch and process.</source>
        <translation>每个微批次、每个进程的样本数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="77" />
        <source>Micro-batches summed into one optimizer step (a bigger batch without more memory).</source>
        <translation>累加为一个优化步的微批次数（不增加内存即可得到更大的批次）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="78" />
        <source>Peak learning rate of AdamW.</source>
        <translation>AdamW 的峰值学习率。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="79" />
        <source>LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off.</source>
        <translation>LoRA+：B 矩阵的学习速度是其他参数的这么多倍（例如 16）；0 = 关闭。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="80" />
        <source>AdamW weight decay.</source>
        <translation>AdamW 权重衰减。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="81" />
        <source>AdamW beta1.</source>
        <translation>AdamW beta1。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="82" />
        <source>AdamW beta2.</source>
        <translation>AdamW beta2。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="83" />
        <source>AdamW epsilon.</source>
        <translation>AdamW epsilon。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="84" />
        <source>After warm-up: 'linear' or 'cosine' decay to 0, or 'constant'.</source>
        <translation>预热之后：'linear' 或 'cosine' 衰减到 0，或 'constant'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="85" />
        <source>Steps of linear warm-up from 0 to the learning rate.</source>
        <translation>从 0 线性预热到学习率的步数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="86" />
        <source>Clip the gradient norm to this; 0 = no clipping.</source>
        <translation>将梯度范数裁剪到此值；0 = 不裁剪。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="87" />
        <source>Recompute activations in backward: less memory, ~30 % slower.</source>
        <translation>在反向传播中重新计算激活：更省内存，约慢 30 %。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="88" />
        <source>LoRA: layers reading the same input (q/k/v, gate/up) share one dropout mask per step instead of one each (PEFT's way): faster, but a different regulariser.</source>
        <translation>LoRA：读取同一输入的层（q/k/v、gate/up）每步共用一个 dropout 掩码，而不是各自生成一个（PEFT 的做法）：更快，但正则化效果不同。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="89" />
        <source>Where to train: 'auto' (a GPU when there is one, else the CPU), 'cpu', 'cuda', 'cuda:N' (the GPU numbered N) or 'mps' (Apple GPU). Under accelerate launch / torchrun each process takes its own GPU.</source>
        <translation>在哪里训练：'auto'（有 GPU 时用 GPU，否则用 CPU）、'cpu'、'cuda'、'cuda:N'（编号为 N 的 GPU）或 'mps'（Apple GPU）。在 accelerate launch / torchrun 下每个进程使用自己的 GPU。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="90" />
        <source>'auto' (bf16 on GPUs that have it, else fp16; none on CPU), 'no', 'bf16', 'fp16'.</source>
        <translation>'auto'（支持的 GPU 上用 bf16，否则 fp16；CPU 上不用）、'no'、'bf16'、'fp16'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="91" />
        <source>How the frozen base model's weights are held: 'float32', 'bfloat16', 'float16', '8bit' or '4bit' (QLoRA: bitsandbytes, exactly as transformers' BitsAndBytesConfig quantizes).</source>
        <translation>冻结的基础模型权重以何种精度保存：'float32'、'bfloat16'、'float16'、'8bit' 或 '4bit'（QLoRA：用 bitsandbytes，与 transformers 的 BitsAndBytesConfig 量化结果完全相同）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="92" />
        <source>4-bit base only: 'nf4' (NormalFloat, as in QLoRA) or 'fp4'.</source>
        <translation>仅用于 4 位基础模型：'nf4'（NormalFloat，与 QLoRA 相同）或 'fp4'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="93" />
        <source>4-bit base only: quantize the quantization scales too (about 0.4 bit a weight less).</source>
        <translation>仅用于 4 位基础模型：对量化缩放因子也进行量化（每个权重约少 0.4 位）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="94" />
        <source>8-bit / 4-bit base: the dtype its layers compute in and its unquantized modules are held in: 'float32', 'bfloat16' or 'float16'.</source>
        <translation>8 位 / 4 位基础模型：各层的计算精度，以及未量化模块的保存精度：'float32'、'bfloat16' 或 'float16'。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="95" />
        <source>Seed of data order, dropout and adapter initialisation.</source>
        <translation>数据顺序、dropout 和适配器初始化的随机种子。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="96" />
        <source>Report a step event every this many steps.</source>
        <translation>每隔这么多步报告一次步骤事件。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="97" />
        <source>Evaluate on the validation split every this many steps (and at the end); 0 = only at the end.</source>
        <translation>每隔这么多步（以及结束时）在验证集上评估；0 = 仅在结束时评估。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="98" />
        <source>Examples per evaluation batch and process.</source>
        <translation>每个评估批次、每个进程的样本数。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="101" />
        <source>Write a checkpoint every this many steps (and always at the end and on stop); 0 = only then.</source>
        <translation>每隔这么多步写入一个检查点（结束时和停止时总会写入）；0 = 仅在那时写入。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="102" />
        <source>Keep at most this many checkpoints (oldest deleted first); 0 = keep all.</source>
        <translation>最多保留这么多个检查点（最旧的先删除）；0 = 全部保留。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="103" />
        <source>A .jsonl/.json/.csv/.parquet file, a save_to_disk folder, or a cached hub dataset id.</source>
        <translation>一个 .jsonl/.json/.csv/.parquet 文件、一个 save_to_disk 文件夹，或已缓存的 Hub 数据集 ID。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="104" />
        <source>'prompt_completion', 'chat', 'text', or 'auto' (detected from the columns).</source>
        <translation>'prompt_completion'、'chat'、'text' 或 'auto'（根据列检测）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="105" />
        <source>Column with the prompt (prompt_completion format).</source>
        <translation>包含提示的列（prompt_completion 格式）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="106" />
        <source>Column with the answer to learn (prompt_completion format).</source>
        <translation>包含要学习的回答的列（prompt_completion 格式）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="107" />
        <source>Column with the list of {role, content} messages (chat format).</source>
        <translation>包含 {role, content} 消息列表的列（chat 格式）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="108" />
        <source>Column with the raw text (text format).</source>
        <translation>包含原始文本的列（text 格式）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="109" />
        <source>prompt_completion: render prompt and completion as a user/assistant exchange with the chat template (False: plain concatenation).</source>
        <translation>prompt_completion：用聊天模板把提示和补全渲染为一轮 user/assistant 对话（False：直接拼接）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="110" />
        <source>prompt_completion without the chat template: text put between prompt and completion.</source>
        <translation>不使用聊天模板的 prompt_completion：放在提示和补全之间的文本。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="111" />
        <source>'completion': loss on answers / assistant turns only; 'all': on every token.</source>
        <translation>'completion'：只在回答 / assistant 轮次上计算损失；'all'：在每个 token 上计算。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="112" />
        <source>Longer examples are cut to this many tokens (and counted).</source>
        <translation>更长的样本会被截断到这么多 token（并计数）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="113" />
        <source>Pack several short examples into one row of max_length tokens (fewer pad tokens).</source>
        <translation>把多个短样本打包成一行 max_length 个 token（更少的填充 token）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="114" />
        <source>Fraction of the examples held out for evaluation (0: none).</source>
        <translation>留作评估的样本比例（0：不留）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="115" />
        <source>A separate validation file (overrides validation_split).</source>
        <translation>单独的验证文件（覆盖 validation_split）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="116" />
        <source>Split to use for a hub dataset or a save_to_disk DatasetDict.</source>
        <translation>用于 Hub 数据集或 save_to_disk DatasetDict 的拆分。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="117" />
        <source>Seed of the validation split.</source>
        <translation>验证集拆分的随机种子。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="118" />
        <source>What the data teaches: 'facts' (new facts to remember) or 'style' (a style or format for answers). Training ignores it; the studio warns about a method that measured poorly on it.</source>
        <translation>数据教的内容：'facts'（要记住的新事实）或 'style'（回答的风格或格式）。训练不使用它；若所选方法在这类数据上测得效果差，工作室会提示。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="99" />
        <location filename="../../studio/field_help.py" line="119" />
        <source>At each evaluation, answer this many validation prompts greedily and score them against their references (exact match, contains, F1, ROUGE-L); 0 = off.</source>
        <translation>每次评估时，用贪心解码回答这么多条验证集提示，并与参考答案比较打分（完全匹配、包含、F1、ROUGE-L）；0 = 关闭。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="29" />
        <source>On a model whose output head shares the input embedding's weight: keep what the adapter trains for them tied too (one modules_to_save copy, one LoRA update).</source>
        <translation>当模型的输出头与输入嵌入共享权重时：让适配器为它们训练的内容也保持绑定（同一个 modules_to_save 副本、同一个 LoRA 更新）。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="33" />
        <source>True: A random, B zero. 'gaussian': A normal(1/r). 'pissa': from the weight's SVD. 'mica': B from the weight's r smallest singular directions and kept frozen, A zero. False: both random.</source>
        <translation>True：A 随机、B 为零。'gaussian'：A 服从 normal(1/r)。'pissa'：来自权重的 SVD。'mica'：B 取自权重最小的 r 个奇异方向并保持冻结，A 为零。False：两者都随机。</translation>
    </message>
    <message>
        <location filename="../../studio/field_help.py" line="100" />
        <location filename="../../studio/field_help.py" line="120" />
        <source>Longest answer generated for each evaluation prompt, in tokens.</source>
        <translation>每条评估提示生成的回答的最大长度（token 数）。</translation>
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
    <name>HubDialog</name>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="108" />
        <source>Models from the Hugging Face Hub</source>
        <translation>来自 Hugging Face Hub 的模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="119" />
        <source>Search words, or a model id such as Qwen/Qwen2.5-0.5B-Instruct</source>
        <translation>搜索词，或模型 ID，例如 Qwen/Qwen2.5-0.5B-Instruct</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="120" />
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="121" />
        <source>Look up id</source>
        <translation>查询 ID</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="123" />
        <source>revision (main)</source>
        <translation>修订版本 (main)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="132" />
        <source>Choose a model on the left: its facts, tree and memory show before anything is downloaded.</source>
        <translation>在左侧选择一个模型：在下载任何内容之前即可看到它的信息、模块树和内存估算。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="153" />
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="154" />
        <source>Cancel download</source>
        <translation>取消下载</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="155" />
        <source>Use this model</source>
        <translation>使用此模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="156" />
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="168" />
        <source>hf_… (read token, for gated models)</source>
        <translation>hf_…（读取令牌，用于受限模型）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="169" />
        <source>Save token</source>
        <translation>保存令牌</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="176" />
        <source>Access token:</source>
        <translation>访问令牌：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="211" />
        <source>Gallery (facts and tree offline)</source>
        <translation>模型库（离线显示信息和模块树）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="217" />
        <location filename="../../studio/widgets/hub_dialog.py" line="226" />
        <source>, gated</source>
        <translation>，受限</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="222" />
        <source>On the Hub</source>
        <translation>Hub 上</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="227" />
        <source>{0}  ({1:,} downloads{2})</source>
        <translation>{0}  （{1:,} 次下载{2}）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="241" />
        <source>Searching the Hub for {0}…</source>
        <translation>正在 Hub 上搜索 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="246" />
        <source>{0} models found on the Hub.</source>
        <translation>在 Hub 上找到 {0} 个模型。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="247" />
        <source>No model on the Hub matches {0}.</source>
        <translation>Hub 上没有与 {0} 匹配的模型。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="269" />
        <source>Looking up {0} (config.json only)…</source>
        <translation>正在查询 {0}（仅 config.json）…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="270" />
        <source>Building the skeleton of {0}…</source>
        <translation>正在构建 {0} 的骨架…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="291" />
        <source>Parameters: {0:,} ({1})</source>
        <translation>参数：{0:,}（{1}）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="300" />
        <source>Training memory for the current method (estimate): {0}; trainable parameters {1:,}</source>
        <translation>当前方法的训练内存（估算）：{0}；可训练参数 {1:,}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="304" />
        <location filename="../../studio/widgets/hub_dialog.py" line="320" />
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="304" />
        <source>yes (access granted on request)</source>
        <translation>是（申请后自动授权）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="305" />
        <source>yes (the authors approve each request)</source>
        <translation>是（作者逐一审批申请）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="306" />
        <location filename="../../studio/widgets/hub_dialog.py" line="320" />
        <source>Licence: {0} · gated: {1}</source>
        <translation>许可证：{0} · 受限：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="306" />
        <source>not stated</source>
        <translation>未注明</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="314" />
        <source>Download: {0} files, {1}</source>
        <translation>下载：{0} 个文件，{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="312" />
        <source>Offline: what the cache holds.</source>
        <translation>离线：缓存中已有的内容。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="316" />
        <source>Already downloaded: it opens offline.</source>
        <translation>已下载：可离线打开。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="320" />
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="321" />
        <source>From the gallery's config.json (the Hub was not reached).</source>
        <translation>来自模型库自带的 config.json（未连接到 Hub）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="347" />
        <source>Downloading {0}…</source>
        <translation>正在下载 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="370" />
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="375" />
        <source>{0} of {1} · {2}/s · {3} left · {4}</source>
        <translation>{0} / {1} · {2}/s · 剩余 {3} · {4}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="383" />
        <source>{0} is downloaded and its weights check out ({1}).</source>
        <translation>{0} 已下载，权重校验通过（{1}）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="404" />
        <source>Logged in as {0}</source>
        <translation>已登录为 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="408" />
        <source>Not saved</source>
        <translation>未保存</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="415" />
        <source>A token is stored</source>
        <translation>已保存令牌</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/hub_dialog.py" line="415" />
        <source>No token stored</source>
        <translation>未保存令牌</translation>
    </message>
</context>
<context>
    <name>LaunchDialog</name>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="86" />
        <source>Train on several GPUs</source>
        <translation>在多个 GPU 上训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="86" />
        <source>Train through accelerate launch</source>
        <translation>通过 accelerate launch 训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="88" />
        <source>(none found)</source>
        <translation>（未找到）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="94" />
        <source>Processes, one per GPU: each holds the whole model and trains on its share of every batch (data parallel); gradients are averaged.</source>
        <translation>每个 GPU 一个进程：每个进程保存完整模型，训练每个批次中属于自己的部分（数据并行）；梯度取平均。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="101" />
        <source>DDP when the model fits on one GPU (fastest); FSDP2 or DeepSpeed ZeRO-3 for a model too big for one; ZeRO-2 splits only the optimizer state and the gradients; CPU offload keeps the optimizer state in CPU memory (slower steps).</source>
        <translation>模型能放进单个 GPU 时用 DDP（最快）；单个 GPU 放不下时用 FSDP2 或 DeepSpeed ZeRO-3；ZeRO-2 只切分优化器状态和梯度；CPU 卸载把优化器状态放在 CPU 内存中（每步更慢）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="109" />
        <source>DeepSpeed is not installed for this Python</source>
        <translation>此 Python 未安装 DeepSpeed</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="110" />
        <source>DeepSpeed is not installed for this Python, so the ZeRO choices are off. Install it with this command, then open this dialog again:</source>
        <translation>此 Python 未安装 DeepSpeed，因此 ZeRO 选项不可用。请用下面的命令安装，然后重新打开此对话框：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="116" />
        <source>DS_BUILD_OPS=0: DeepSpeed compiles its optional C++/CUDA ops when first used instead of at install; --no-build-isolation: its build uses the torch already installed</source>
        <translation>DS_BUILD_OPS=0：DeepSpeed 在首次使用时（而不是安装时）编译其可选的 C++/CUDA 算子；--no-build-isolation：构建时使用已安装的 torch</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="205" />
        <source>Data parallel (DDP): each GPU holds the whole model</source>
        <translation>数据并行 (DDP)：每个 GPU 保存完整模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="206" />
        <source>Sharded (FSDP2): the model's weights are split across the GPUs</source>
        <translation>分片 (FSDP2)：模型权重分布在各个 GPU 上</translation>
    </message>
    <message>
        <source>DDP when the model fits on one GPU (fastest); FSDP for a model too big for one.</source>
        <translation>模型能放进单个 GPU 时用 DDP（最快）；单个 GPU 放不下时用 FSDP。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="124" />
        <source>The port the processes meet on; two runs at once on one machine need two ports.</source>
        <translation>各进程会合的端口；同一台机器上同时运行两个任务需要两个端口。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="126" />
        <source>From the Training tab's mixed_precision ('auto': bf16 where every chosen GPU has it, else fp16).</source>
        <translation>取自“训练”页的 mixed_precision（'auto'：所选 GPU 都支持时用 bf16，否则用 fp16）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="129" />
        <source>GPUs found:</source>
        <translation>找到的 GPU：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="129" />
        <source>Device:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="129" />
        <source>CPU (one process)</source>
        <translation>CPU（单进程）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="130" />
        <source>Processes (GPUs):</source>
        <translation>进程数（GPU）：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="131" />
        <source>Parallelism:</source>
        <translation>并行方式：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="134" />
        <source>Mixed precision:</source>
        <translation>混合精度：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="135" />
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="149" />
        <source>The command Start runs (CONFIG: the config, written beside the run's checkpoints)</source>
        <translation>“开始”执行的命令（CONFIG：配置文件，写在该运行的检查点旁）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="156" />
        <source>Per GPU: the Cost panel's estimate with the parts each choice splits divided among the processes. ZeRO-2 splits the optimizer state and the gradients, ZeRO-3 and FSDP2 the weights too; CPU offload moves the optimizer state to CPU memory. Activations stay per process.</source>
        <translation>每个 GPU：成本面板的估算，其中各选项切分的部分由各进程分摊。ZeRO-2 切分优化器状态和梯度，ZeRO-3 和 FSDP2 还切分权重；CPU 卸载把优化器状态移到 CPU 内存。激活值按进程计，不切分。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="161" />
        <source>Save config…</source>
        <translation>保存配置…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="162" />
        <source>Write this accelerate config as a YAML file</source>
        <translation>将此 accelerate 配置写为 YAML 文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="164" />
        <source>Save launch script…</source>
        <translation>保存启动脚本…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="165" />
        <source>Write a bash script that does this launch, to run in a terminal or as a cluster job (srun / sbatch; see its comments)</source>
        <translation>写出执行此启动的 bash 脚本，可在终端中运行或作为集群作业（srun / sbatch；见脚本注释）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="168" />
        <source>Save Slurm script…</source>
        <translation>保存 Slurm 脚本…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="169" />
        <source>Write the same launch as a Slurm batch script (#SBATCH lines for one node with these GPUs): sbatch FILE</source>
        <translation>把同样的启动写成 Slurm 批处理脚本（#SBATCH 行：一个节点、这些 GPU）：sbatch 文件</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="179" />
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="187" />
        <source>accelerate config:</source>
        <translation>accelerate 配置：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="189" />
        <source>Command:</source>
        <translation>命令：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="207" />
        <source>DeepSpeed ZeRO-2: optimizer state and gradients split across the GPUs</source>
        <translation>DeepSpeed ZeRO-2：优化器状态和梯度切分到各 GPU</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="208" />
        <source>ZeRO-2 + CPU offload</source>
        <translation>ZeRO-2 + CPU 卸载</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="209" />
        <source>DeepSpeed ZeRO-2 + CPU offload: the optimizer state in CPU memory</source>
        <translation>DeepSpeed ZeRO-2 + CPU 卸载：优化器状态放在 CPU 内存中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="210" />
        <source>DeepSpeed ZeRO-3: weights, gradients and optimizer state split across the GPUs</source>
        <translation>DeepSpeed ZeRO-3：权重、梯度和优化器状态切分到各 GPU</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="211" />
        <source>ZeRO-3 + CPU offload</source>
        <translation>ZeRO-3 + CPU 卸载</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="212" />
        <source>DeepSpeed ZeRO-3 + CPU offload: the optimizer state in CPU memory</source>
        <translation>DeepSpeed ZeRO-3 + CPU 卸载：优化器状态放在 CPU 内存中</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="235" />
        <source>Memory per GPU: no estimate yet (the Cost panel computes it from the model and the batch).</source>
        <translation>每个 GPU 的内存：尚无估算（成本面板会根据模型和批大小计算）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="237" />
        <source>Memory per GPU (estimate): {0} — one process holds everything.</source>
        <translation>每个 GPU 的内存（估算）：{0}——单个进程保存全部内容。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="251" />
        <source>{0} processes</source>
        <translation>{0} 个进程</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="251" />
        <source>per GPU</source>
        <translation>每个 GPU</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="251" />
        <source>saves per GPU</source>
        <translation>每个 GPU 节省</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="251" />
        <source>CPU memory</source>
        <translation>CPU 内存</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="256" />
        <source>Memory per GPU (estimate; one process alone: {0}):</source>
        <translation>每个 GPU 的内存（估算；单个进程：{0}）：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="258" />
        <source>This choice, per GPU: {0}</source>
        <translation>此选项，每个 GPU：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="261" />
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="261" />
        <source>adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="261" />
        <source>gradients</source>
        <translation>梯度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="262" />
        <source>optimizer</source>
        <translation>优化器</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="262" />
        <source>activations</source>
        <translation>激活</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="262" />
        <source>workspace</source>
        <translation>工作区</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="278" />
        <source>none (fp32)</source>
        <translation>无 (fp32)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="286" />
        <source>DeepSpeed is not installed for this Python: install it (the command above) or choose DDP or FSDP2.</source>
        <translation>此 Python 未安装 DeepSpeed：请安装它（见上方命令），或选择 DDP 或 FSDP2。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="293" />
        <source>One process: Start trains with the bundle's own worker (no accelerate launch).</source>
        <translation>单进程：“开始”用安装包自带的工作进程训练（不经 accelerate launch）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="296" />
        <source>resumes run {0}</source>
        <translation>恢复运行 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="296" />
        <source>creates a new run</source>
        <translation>创建一个新运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="297" />
        <source>Start {0} and writes the config and a launch script beside its checkpoints ({1}, {2}).</source>
        <translation>“开始”会{0}，并在其检查点旁写入配置和启动脚本（{1}、{2}）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="317" />
        <source>Save accelerate config</source>
        <translation>保存 accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="317" />
        <source>YAML (*.yaml *.yml)</source>
        <translation>YAML (*.yaml *.yml)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="325" />
        <source>Save launch script</source>
        <translation>保存启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="325" />
        <source>Shell script (*.sh)</source>
        <translation>Shell 脚本 (*.sh)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="333" />
        <source>Save Slurm script</source>
        <translation>保存 Slurm 脚本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="333" />
        <source>Slurm batch script (*.sbatch *.sh)</source>
        <translation>Slurm 批处理脚本 (*.sbatch *.sh)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="344" />
        <source>Could not write {0}: {1}</source>
        <translation>无法写入 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/launch_dialog.py" line="346" />
        <source>Saved {0}</source>
        <translation>已保存 {0}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../studio/main_window.py" line="103" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="104" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="105" />
        <source>Data</source>
        <translation>数据</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="130" />
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="231" />
        <location filename="../../studio/main_window.py" line="389" />
        <location filename="../../studio/main_window.py" line="399" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="300" />
        <source>Building the skeleton of {0}…</source>
        <translation>正在构建 {0} 的骨架…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="301" />
        <source>Loading {0}…</source>
        <translation>正在加载 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="314" />
        <source>{0}: {1:,} parameters</source>
        <translation>{0}：{1:,} 个参数</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="339" />
        <source>The methods could not be loaded: {0}</source>
        <translation>无法加载方法：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="382" />
        <source>adaption prompt adapts this attention module</source>
        <translation>adaption prompt 会适配此注意力模块</translation>
    </message>
</context>
<context>
    <name>Menus</name>
    <message>
        <location filename="../../studio/menus.py" line="25" />
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="26" />
        <source>&amp;New…</source>
        <translation>新建(&amp;N)…</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="27" />
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="28" />
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="29" />
        <source>Save &amp;As…</source>
        <translation>另存为(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="30" />
        <source>Recent projects</source>
        <translation>最近的项目</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="32" />
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="34" />
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="35" />
        <location filename="../../studio/menus.py" line="82" />
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="38" />
        <location filename="../../studio/menus.py" line="83" />
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="46" />
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="47" />
        <source>Focus the tree filter</source>
        <translation>聚焦到模块树筛选框</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="52" />
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="54" />
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="65" />
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="66" />
        <source>&amp;Documentation</source>
        <translation>文档(&amp;D)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="70" />
        <source>&amp;About Adapter Studio</source>
        <translation>关于 Adapter Studio(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../studio/menus.py" line="89" />
        <source>The language changes the next time Adapter Studio starts.</source>
        <translation>语言将在下次启动 Adapter Studio 时更改。</translation>
    </message>
</context>
<context>
    <name>Messages</name>
    <message>
        <location filename="../../studio/messages.py" line="49" />
        <source>{path} is not a Hugging Face model folder: it has no config.json. Choose the folder that holds config.json and the *.safetensors weights, a .gguf file, a hub id in the local cache or a built-in name.</source>
        <translation>{path} 不是 Hugging Face 模型文件夹：其中没有 config.json。请选择包含 config.json 和 *.safetensors 权重的文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称。</translation>
    </message>
    <message>
        <source>The hub id '{id}' is not in the local Hugging Face cache, and Adapter Studio never downloads models itself. On a machine with network, run `hf download {id}` and copy the cache over, or clone https://huggingface.co/{id} and choose that folder.</source>
        <translation>本地 Hugging Face 缓存中没有 hub id '{id}'，而 Adapter Studio 自己从不下载模型。请在有网络的机器上运行 `hf download {id}` 并把缓存复制过来，或克隆 https://huggingface.co/{id} 并选择那个文件夹。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="53" />
        <source>The hub id '{id}' is not in the local Hugging Face cache. Download it first with the Hub… button (or `adapter-studio pull {id}`). Without network here, run that or `hf download {id}` on a machine with network and copy the cache over.</source>
        <translation>Hub ID '{id}' 不在本地 Hugging Face 缓存中。请先用“Hub…”按钮（或 `adapter-studio pull {id}`）下载它。若此处没有网络，请在联网的机器上运行该命令或 `hf download {id}`，再把缓存复制过来。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="57" />
        <source>Unknown model reference '{ref}'. Choose a model folder, a .gguf file, a hub id in the local cache or a built-in name (smollm2-135m-instruct, bloomz-560m, tiny-bloom, tiny-llama, tiny-gpt2).</source>
        <translation>未知的模型引用 '{ref}'。请选择模型文件夹、.gguf 文件、本地缓存中的 Hub ID 或内置模型名称（smollm2-135m-instruct、bloomz-560m、tiny-bloom、tiny-llama、tiny-gpt2）。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="61" />
        <source>There is no file or folder at {path}. Check the path.</source>
        <translation>{path} 处没有文件或文件夹。请检查路径。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="63" />
        <source>The model reference is empty: choose a model.</source>
        <translation>模型引用为空：请选择一个模型。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="65" />
        <source>{file}, line {line}, column {col}: not valid JSON.</source>
        <translation>{file}，第 {line} 行第 {col} 列：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="67" />
        <source>{file}, line {line}: not valid JSON.</source>
        <translation>{file}，第 {line} 行：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="71" />
        <source>target_modules entry '{name}' matches no module of this model. Closest real names: {close}.</source>
        <translation>target_modules 中的 '{name}' 不匹配此模型的任何模块。最接近的实际名称：{close}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="73" />
        <source>{field} must be a whole number ≥ {min}, got {got}.</source>
        <translation>{field} 必须是 ≥ {min} 的整数，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="74" />
        <source>{field} must be in {range}, not {got}.</source>
        <translation>{field} 必须在 {range} 之内，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="75" />
        <source>{field} must be positive, not {got}.</source>
        <translation>{field} 必须为正数，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="76" />
        <source>{field} must be a number, not {got}.</source>
        <translation>{field} 必须是数字，当前为 {got}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="69" />
        <source>{field}: not valid JSON.</source>
        <translation>{field}：不是有效的 JSON。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="77" />
        <source>Set max_steps ≥ 1 or num_epochs &gt; 0.</source>
        <translation>请设置 max_steps ≥ 1 或 num_epochs &gt; 0。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="78" />
        <source>not a valid regular expression: {why}</source>
        <translation>不是有效的正则表达式：{why}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="80" />
        <source>{method} adapts {kinds} layers, not {cls}.</source>
        <translation>{method} 只能适配 {kinds} 层，不能适配 {cls}。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="81" />
        <source>Adaption prompt adapts whole attention modules of Llama, Mistral, GPT-2 and Bloom blocks.</source>
        <translation>Adaption prompt 适配 Llama、Mistral、GPT-2 和 Bloom 块中的整个注意力模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="82" />
        <source>{method} adds virtual tokens in front of the input; it does not adapt individual modules.</source>
        <translation>{method} 在输入前添加虚拟 token；它不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="83" />
        <source>Prefix tuning adds learned keys and values to every attention layer; it does not adapt individual modules.</source>
        <translation>Prefix tuning 为每个注意力层添加学习到的键和值；它不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="86" />
        <source>Prompt tuning learns virtual tokens in front of the input; it adapts no module.</source>
        <translation>Prompt tuning 学习输入前的虚拟 token；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="87" />
        <source>P-tuning learns virtual tokens (through a small prompt encoder); it adapts no module.</source>
        <translation>P-tuning（通过一个小型提示编码器）学习虚拟 token；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="88" />
        <source>Prefix tuning learns key/value prefixes for every attention layer; it adapts no module.</source>
        <translation>Prefix tuning 为每个注意力层学习键/值前缀；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="89" />
        <source>Adaption prompt adds gated prompts to the top attention layers; it adapts no module.</source>
        <translation>Adaption prompt 为顶部的注意力层添加门控提示；它不适配任何模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="90" />
        <source>{method} does not adapt individual modules.</source>
        <translation>{method} 不适配单个模块。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="95" />
        <source>Training failed at step {step}: {rest}</source>
        <translation>训练在第 {step} 步失败：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="96" />
        <source>Training failed: {rest}</source>
        <translation>训练失败：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="97" />
        <source>The model could not be loaded: {rest}</source>
        <translation>无法加载模型：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="98" />
        <source>The dataset cannot be used: {rest}</source>
        <translation>无法使用数据集：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="99" />
        <source>The run's settings are not valid: {rest}</source>
        <translation>运行的设置无效：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="100" />
        <source>Training could not start: {rest}</source>
        <translation>训练无法开始：{rest}</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="105" />
        <source>The model could not be loaded.</source>
        <translation>无法加载模型。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="106" />
        <source>The dataset cannot be used.</source>
        <translation>无法使用数据集。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="107" />
        <source>A setting is not valid.</source>
        <translation>某项设置无效。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="108" />
        <source>The project file cannot be used.</source>
        <translation>无法使用项目文件。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="109" />
        <source>The export failed.</source>
        <translation>导出失败。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="110" />
        <source>Out of memory.</source>
        <translation>内存不足。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="111" />
        <source>The loss is no longer a number.</source>
        <translation>损失已不再是有限数值。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="112" />
        <source>This cannot be done now.</source>
        <translation>现在无法执行此操作。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="113" />
        <source>The training process ended without a word.</source>
        <translation>训练进程未留下任何说明就结束了。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="114" />
        <source>Something went wrong.</source>
        <translation>出错了。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="118" />
        <source>Lower the batch size or max_length, or turn on gradient checkpointing, then Resume or train again.</source>
        <translation>请减小批大小或 max_length，或打开梯度检查点，然后恢复或重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="120" />
        <source>Lower the learning rate (or use more warm-up steps), then train again.</source>
        <translation>请降低学习率（或使用更多预热步数），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="121" />
        <source>Fix the dataset (the Data tab's Preview shows the problem), then train again.</source>
        <translation>请修正数据集（“数据”页的预览会显示问题），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="122" />
        <source>Change the setting named above, then train again.</source>
        <translation>请修改上面提到的设置，然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="123" />
        <source>Check the model reference (folder, .gguf file, built-in name), then train again.</source>
        <translation>请检查模型引用（文件夹、.gguf 文件、内置名称），然后重新训练。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="124" />
        <source>See the log below for details; Resume continues from the last checkpoint if there is one.</source>
        <translation>详情见下方日志；若有检查点，“恢复”会从最近的检查点继续。</translation>
    </message>
    <message>
        <location filename="../../studio/messages.py" line="157" />
        <source>, </source>
        <translation>、</translation>
    </message>
</context>
<context>
    <name>MethodForm</name>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="60" />
        <source>loading methods…</source>
        <translation>正在加载方法…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="64" />
        <source>new facts to remember</source>
        <translation>需要记住的新事实</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="65" />
        <source>a style or format for answers</source>
        <translation>回答的风格或格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="66" />
        <source>What your dataset teaches. New facts: names, numbers, answers the model does not know yet. A style or format: the way answers are written (a template, a tone, JSON), with content the model already knows.</source>
        <translation>你的数据集教的是什么。新事实：模型还不知道的名称、数字、答案。风格或格式：回答的写法（模板、语气、JSON），内容是模型已经知道的。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="81" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="82" />
        <source>Your data teaches</source>
        <translation>你的数据教的是</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="153" />
        <source>new facts</source>
        <translation>新事实</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="153" />
        <source>a style or format</source>
        <translation>风格或格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="156" />
        <source>stores new facts</source>
        <translation>能存储新事实</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="156" />
        <source>steers style and format</source>
        <translation>能引导风格和格式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="163" />
        <source>measured well on neither kind of data</source>
        <translation>在两类数据上的测量结果都不好</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="164" />
        <source>Good for: {0}.</source>
        <translation>适用于：{0}。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="167" />
        <source>On SmolLM2-135M: {0} trainable parameters; 60 steps took {1:.0f} s on 2 shared CPU cores.</source>
        <translation>在 SmolLM2-135M 上：{0} 个可训练参数；60 步在 2 个共享的 CPU 核心上用时 {1:.0f} 秒。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="169" />
        <source>Merges into the model's weights.</source>
        <translation>可以合并进模型权重。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="170" />
        <source>Stays a separate adapter: it cannot be merged into the model.</source>
        <translation>保持为独立的适配器：不能合并进模型。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="180" />
        <source>Measured: {0} at its defaults learned little of {1} (held-out score {2:.2f}).</source>
        <translation>实测：{0} 在默认设置下几乎没有学会{1}（留出集得分 {2:.2f}）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/method_form.py" line="184" />
        <source>For {0}, pick {1} ({2} scored {3:.2f}).</source>
        <translation>对于{0}，请选择 {1}（{2} 得分 {3:.2f}）。</translation>
    </message>
</context>
<context>
    <name>ModelBar</name>
    <message>
        <location filename="../../studio/model_bar.py" line="35" />
        <source>A built-in name, a model folder, a .gguf file or a cached hub id</source>
        <translation>内置名称、模型文件夹、.gguf 文件或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="37" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="39" />
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="40" />
        <source>Open a Hugging Face model folder (config.json + *.safetensors)</source>
        <translation>打开 Hugging Face 模型文件夹（config.json + *.safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="41" />
        <source>.gguf…</source>
        <translation>.gguf…</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="42" />
        <source>Open a .gguf model file</source>
        <translation>打开 .gguf 模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="45" />
        <source>Hub…</source>
        <translation>Hub…</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="46" />
        <source>Find a model on the Hugging Face Hub or in the gallery: look at it, then download it</source>
        <translation>在 Hugging Face Hub 或模型库中查找模型：先查看，再下载</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="72" />
        <source>Model folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/model_bar.py" line="77" />
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
</context>
<context>
    <name>ModuleTree</name>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="126" />
        <source>Filter: name or regex (F)</source>
        <translation>筛选：名称或正则表达式 (F)</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="140" />
        <source>Module</source>
        <translation>模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="140" />
        <source>Class</source>
        <translation>类</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="140" />
        <source>Shape</source>
        <translation>形状</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="140" />
        <source>Params</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="157" />
        <source>Only this block</source>
        <translation>仅此块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="164" />
        <source>block</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="170" />
        <source>all layers</source>
        <translation>所有层</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="177" />
        <source>Layers:</source>
        <translation>层：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="179" />
        <source>from</source>
        <translation>从</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="181" />
        <source>to</source>
        <translation>到</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="185" />
        <source>target_modules: names (q_proj, v_proj) or a regex</source>
        <translation>target_modules：名称（q_proj, v_proj）或正则表达式</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="190" />
        <source>Targets:</source>
        <translation>目标：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="250" />
        <source>{0} · {1} · {2} parameters</source>
        <translation>{0} · {1} · {2} 个参数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="252" />
        <source>architecture only: no weights (inspect and estimate; it cannot be trained — open a folder of the real model to train it)</source>
        <translation>仅架构：没有权重（可查看和估算；不能训练——请打开真实模型的文件夹来训练）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="329" />
        <source>{0}: its weights are fused parameters, one matrix per expert ({1}), not Linear layers. Ticking adds them to target_parameters (one LoRA update per expert); unticking removes them.</source>
        <translation>{0}：其权重是融合参数，每个专家一个矩阵（{1}），不是 Linear 层。勾选会把它们加入 target_parameters（每个专家一个 LoRA 更新）；取消勾选会移除它们。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="333" />
        <source>Selected in {0} of {1} blocks.</source>
        <translation>已在 {1} 个块中的 {0} 个中选中。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="400" />
        <source>no model</source>
        <translation>没有模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="405" />
        <source>{0} does not target modules of the tree.</source>
        <translation>{0} 不以模块树中的模块为目标。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="520" />
        <source>'{0}' matches no module (closest: {1})</source>
        <translation>'{0}' 不匹配任何模块（最接近：{1}）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="522" />
        <source>'{0}' matches no module</source>
        <translation>'{0}' 不匹配任何模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="525" />
        <source>{0} cannot adapt {1}: {2}</source>
        <translation>{0} 无法适配 {1}：{2}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="528" />
        <source>layers_to_transform only works with a name list, not a regex</source>
        <translation>layers_to_transform 只能与名称列表一起使用，不能与正则表达式一起使用</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="530" />
        <source>these targets select no module</source>
        <translation>这些目标没有选中任何模块</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="548" />
        <source>Use {0} (the same modules in this model)</source>
        <translation>使用 {0}（此模型中的相同模块）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="549" />
        <source>The targets name modules of another architecture; these have the same roles (attention query/key/value/output, MLP) here.</source>
        <translation>这些目标是另一种架构的模块名；此处这些模块承担相同的角色（注意力的 query/key/value/output、MLP）。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="561" />
        <source>Also adapt the experts ({0})</source>
        <translation>同时适配专家（{0}）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="563" />
        <source>This mixture-of-experts model keeps its experts as fused parameters, which all-linear does not select: without target_parameters only the attention layers train. A click sets target_parameters to {0} (one LoRA update per expert), the default of a new project on this model.</source>
        <translation>这个混合专家模型把专家保存为融合参数，all-linear 不会选中它们：没有 target_parameters 时只训练注意力层。点击后 target_parameters 设为 {0}（每个专家一个 LoRA 更新），即在此模型上新建项目时的默认值。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="631" />
        <source>Untick {0}</source>
        <translation>取消勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="634" />
        <source>Tick in all {0} blocks</source>
        <translation>在全部 {0} 个块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="637" />
        <location filename="../../studio/widgets/module_tree.py" line="652" />
        <source>Tick only in block {0}</source>
        <translation>仅在第 {0} 块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="639" />
        <source>Tick {0}</source>
        <translation>勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="653" />
        <source>Tick only in block</source>
        <translation>仅在某一块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="681" />
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
        <location filename="../../studio/widgets/playground.py" line="138" />
        <source>Adapter:</source>
        <translation>适配器：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="145" />
        <source>&lt;b&gt;Base model&lt;/b&gt;</source>
        <translation>&lt;b&gt;基础模型&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="146" />
        <source>&lt;b&gt;With the adapter&lt;/b&gt;</source>
        <translation>&lt;b&gt;加上适配器&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="194" />
        <source>No checkpoint yet: train a run first.</source>
        <translation>还没有检查点：请先训练一次。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="202" />
        <source>Type a prompt and Generate: the base model and the previewed adapter side by side.</source>
        <translation>输入提示词并点击生成：基础模型与预览的适配器并排输出。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="220" />
        <source>Base model: {0} · adapter: {1}</source>
        <translation>基础模型：{0} · 适配器：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="240" />
        <source>Loading {0} with {1}…</source>
        <translation>正在加载 {0} 和 {1}…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="270" />
        <source>Done.</source>
        <translation>完成。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/playground.py" line="270" />
        <source> The adapter did not change this answer.</source>
        <translation> 适配器没有改变这个回答。</translation>
    </message>
</context>
<context>
    <name>ProjectFiles</name>
    <message>
        <location filename="../../studio/project_files.py" line="61" />
        <source>Cannot open project</source>
        <translation>无法打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="94" />
        <source>New project</source>
        <translation>新建项目</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="101" />
        <source>Open project</source>
        <translation>打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="109" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="113" />
        <source>Saved — the project saves itself as you edit.</source>
        <translation>已保存——项目会在编辑时自动保存。</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="120" />
        <source>Save project as</source>
        <translation>项目另存为</translation>
    </message>
</context>
<context>
    <name>ReadOnlyBanner</name>
    <message>
        <location filename="../../studio/project_files.py" line="155" />
        <source>Show that window</source>
        <translation>显示那个窗口</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="156" />
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="157" />
        <source>Open the project for editing if no other window has it open any more</source>
        <translation>若已没有其他窗口打开此项目，则以可编辑方式重新打开</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="170" />
        <source>another window of Adapter Studio has this project open; only that window can change it.</source>
        <translation>Adapter Studio 的另一个窗口已打开此项目；只有那个窗口可以修改它。</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="172" />
        <source>the project's lock file cannot be written ({0}).</source>
        <translation>无法写入项目的锁文件（{0}）。</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="174" />
        <source>Adapter Studio (process {0} on {1}, since {2}) has this project open; only that window can change it.</source>
        <translation>Adapter Studio（{1} 上的进程 {0}，自 {2} 起）已打开此项目；只有那个窗口可以修改它。</translation>
    </message>
    <message>
        <location filename="../../studio/project_files.py" line="182" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
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
        <location filename="../../studio/widgets/run_view.py" line="271" />
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="137" />
        <source>Resume from last checkpoint</source>
        <translation>从最近的检查点恢复</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="142" />
        <source>Details</source>
        <translation>详情</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="144" />
        <source>The technical detail of the failure (for a bug report)</source>
        <translation>失败的技术细节（用于错误报告）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="152" />
        <source>Save plot…</source>
        <translation>保存图表…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="153" />
        <source>Save the curves as PNG or SVG</source>
        <translation>将曲线保存为 PNG 或 SVG</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="156" />
        <location filename="../../studio/widgets/run_view.py" line="278" />
        <source>no run</source>
        <translation>无运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="161" />
        <source>The worker's log appears here.</source>
        <translation>工作进程的日志显示在这里。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="359" />
        <source>after step {0}; Continue (Ctrl+P) goes on, Stop writes a checkpoint</source>
        <translation>在第 {0} 步之后；“继续”(Ctrl+P) 接着训练，“停止”会写入检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="368" />
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/run_view.py" line="479" />
        <source>Save plot</source>
        <translation>保存图表</translation>
    </message>
</context>
<context>
    <name>RunsList</name>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="33" />
        <source>run</source>
        <translation>运行</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="33" />
        <source>status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="33" />
        <source>method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="34" />
        <source>steps</source>
        <translation>步数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="34" />
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="34" />
        <source>eval loss</source>
        <translation>评估损失</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="35" />
        <source>best eval</source>
        <translation>最佳评估</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="35" />
        <source>duration</source>
        <translation>时长</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="36" />
        <source>best score</source>
        <translation>最佳得分</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="36" />
        <source>blind A/B</source>
        <translation>盲评 A/B</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="39" />
        <source>exact match</source>
        <translation>完全匹配</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="39" />
        <source>contains</source>
        <translation>包含</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="40" />
        <source>token F1</source>
        <translation>词元 F1</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="40" />
        <source>ROUGE-L</source>
        <translation>ROUGE-L</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="97" />
        <source>The task score the runs list shows: each run's best over its evaluations</source>
        <translation>运行列表显示的任务得分：每个运行在各次评估中的最佳值</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="102" />
        <source>Select two runs to compare their settings; several to overlay their curves.</source>
        <translation>选择两个运行可比较设置；选择多个可叠加曲线。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="104" />
        <source>Exports of this project (verified against the adapter model)</source>
        <translation>本项目的导出（已与适配器模型比对验证）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="110" />
        <source>Score:</source>
        <translation>得分：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="120" />
        <source>Exports</source>
        <translation>导出</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="245" />
        <source>Resume from last checkpoint</source>
        <translation>从最近的检查点恢复</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="245" />
        <source>Resume — {0}</source>
        <translation>恢复——{0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="252" />
        <source>Combine selected runs…</source>
        <translation>合并所选运行…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="252" />
        <source>Combine runs…</source>
        <translation>合并运行…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/runs_list.py" line="253" />
        <source>Make one adapter from finished runs, each with a weight (adapter arithmetic)</source>
        <translation>把已完成的运行按各自的权重合并成一个适配器（适配器运算）</translation>
    </message>
</context>
<context>
    <name>SamplesView</name>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="56" />
        <source>The evaluation prompt to look at</source>
        <translation>要查看的评估提示</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="58" />
        <source>Slide through the evaluation steps</source>
        <translation>在各评估步骤之间滑动</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="61" />
        <source>No samples yet: a run records its answers to the evaluation prompts at each evaluation.</source>
        <translation>尚无样例：运行会在每次评估时记录它对评估提示的回答。</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="68" />
        <source>Base model</source>
        <translation>基础模型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="70" />
        <source>Reference</source>
        <translation>参考答案</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="72" />
        <source>Prompt:</source>
        <translation>提示：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="74" />
        <source>Step:</source>
        <translation>步骤：</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="132" />
        <location filename="../../studio/widgets/samples_view.py" line="140" />
        <source>Checkpoint</source>
        <translation>检查点</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="138" />
        <source>step {0} ({1} of {2})</source>
        <translation>第 {0} 步（第 {1} 个，共 {2} 个）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="140" />
        <source>Step {0}</source>
        <translation>第 {0} 步</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/samples_view.py" line="141" />
        <source>not recorded</source>
        <translation>未记录</translation>
    </message>
</context>
<context>
    <name>TrainingController</name>
    <message>
        <location filename="../../studio/training.py" line="76" />
        <location filename="../../studio/training.py" line="97" />
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
        <location filename="../../studio/training.py" line="92" />
        <source>Samples</source>
        <translation>样例</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="94" />
        <source>Blind A/B</source>
        <translation>盲评 A/B</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="102" />
        <source>▶ Train</source>
        <translation>▶ 训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="103" />
        <source>Start a training run in a worker process (Ctrl+Enter)</source>
        <translation>在工作进程中开始一次训练 (Ctrl+Enter)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="104" />
        <source>■ Stop</source>
        <translation>■ 停止</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="105" />
        <source>Checkpoint and stop the run (Esc)</source>
        <translation>写入检查点并停止运行 (Esc)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="107" />
        <location filename="../../studio/training.py" line="474" />
        <source>‖ Pause</source>
        <translation>‖ 暂停</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="118" />
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="119" />
        <source>&amp;Train</source>
        <translation>训练(&amp;T)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="121" />
        <source>&amp;Stop</source>
        <translation>停止(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="124" />
        <location filename="../../studio/training.py" line="480" />
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="127" />
        <source>&amp;Resume selected run</source>
        <translation>恢复所选运行(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="132" />
        <source>&amp;Export…</source>
        <translation>导出(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="133" />
        <source>&amp;Combine runs…</source>
        <translation>合并运行(&amp;C)…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="134" />
        <source>Make one adapter from finished runs, each with a weight, and save it as a new run</source>
        <translation>把已完成的运行按各自的权重合并成一个适配器，并保存为新运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="135" />
        <source>Save &amp;plot…</source>
        <translation>保存图表(&amp;P)…</translation>
    </message>
    <message>
        <source>No run yet — press Train (Ctrl+Enter).</source>
        <translation>还没有运行——按“训练”(Ctrl+Enter)。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="271" />
        <source>A run is training; stop it first.</source>
        <translation>有运行正在训练；请先停止它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="276" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="285" />
        <source>Looking for GPUs…</source>
        <translation>正在查找 GPU…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="294" />
        <location filename="../../studio/training.py" line="366" />
        <source>Cannot train</source>
        <translation>无法训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="299" />
        <source>starting the worker…</source>
        <translation>正在启动工作进程…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="322" />
        <source>Model: {0}</source>
        <translation>模型：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="327" />
        <source>Model: the built-in {0} is only an architecture (no weights); open a folder of the real model to train it.</source>
        <translation>模型：内置的 {0} 只是一个架构（没有权重）；请打开真实模型的文件夹来训练它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="330" />
        <source>Targets: {0}</source>
        <translation>目标：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="332" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="333" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="339" />
        <source>Data: {0}</source>
        <translation>数据：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="341" />
        <source>Data: {0} (Preview again once it is fixed.)</source>
        <translation>数据：{0}（修正后请再次预览。）</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="351" />
        <source>There is no run {0}.</source>
        <translation>没有运行 {0}。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="353" />
        <source>Run {0} is complete: there is nothing to resume. Train starts a new run with the current settings (raise max_steps in the Training tab to train longer).</source>
        <translation>运行 {0} 已完成：没有可恢复的内容。“训练”会用当前设置开始新的运行（要训练更久，请在“训练”选项卡中调高 max_steps）。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="356" />
        <location filename="../../studio/training.py" line="563" />
        <source>Run {0} is training already.</source>
        <translation>运行 {0} 已在训练。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="358" />
        <source>Run {0} has no checkpoint to resume from; fix what it reports and press Train for a new run.</source>
        <translation>运行 {0} 没有可从中恢复的检查点；请修正它报告的问题，然后按“训练”开始新的运行。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="389" />
        <source>Saved the {0}: {1}</source>
        <translation>已保存{0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="389" />
        <source>launch script</source>
        <translation>启动脚本</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="389" />
        <source>Slurm script</source>
        <translation>Slurm 脚本</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="390" />
        <source>accelerate config</source>
        <translation>accelerate 配置</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="471" />
        <source>▶ Continuing…</source>
        <translation>▶ 正在继续…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="471" />
        <source>▶ Continue</source>
        <translation>▶ 继续</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="472" />
        <source>The run is paused (its memory and place are kept); go on training (Ctrl+P)</source>
        <translation>运行已暂停（保留其内存和进度）；继续训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="474" />
        <source>‖ Pausing…</source>
        <translation>‖ 正在暂停…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="475" />
        <source>Pause the run after its current step, keeping its memory and place; Continue goes on (Ctrl+P)</source>
        <translation>在当前步之后暂停运行，保留其内存和进度；“继续”接着训练 (Ctrl+P)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="480" />
        <source>&amp;Continue</source>
        <translation>继续(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="516" />
        <source>run {0}: {1}</source>
        <translation>运行 {0}：{1}</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="533" />
        <source>Coloured {0} tree rows by where the adaptation went.</source>
        <translation>已按适配的位置为 {0} 行模块树着色。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="544" />
        <source>Stop run {0}? It writes a checkpoint first; Resume continues it.</source>
        <translation>停止运行 {0}？会先写入检查点；“恢复”可继续。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="547" />
        <source>stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="556" />
        <location filename="../../studio/training.py" line="561" />
        <source>Select a stopped, failed or interrupted run in the runs list first.</source>
        <translation>请先在运行列表中选择一个已停止、失败或中断的运行。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="567" />
        <source>Resume the selected run from its last checkpoint</source>
        <translation>从最后一个检查点恢复所选运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="582" />
        <source>A run is training</source>
        <translation>有运行正在训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="583" />
        <source>Stop the run</source>
        <translation>停止运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="584" />
        <source>Keep it running in the background</source>
        <translation>在后台继续运行</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="588" />
        <source>Stop training</source>
        <translation>停止训练</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="598" />
        <source>Run {0} is training. Stop it (a checkpoint is written), or keep it running in the background? Reopening the project shows it again.</source>
        <translation>运行 {0} 正在训练。停止它（会写入检查点），还是让它在后台继续运行？重新打开项目时会再次显示它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="601" />
        <source>It is paused: kept in the background it stays paused until you reopen the project and continue it.</source>
        <translation>它已暂停：在后台保留时会一直暂停，直到你重新打开项目并继续它。</translation>
    </message>
    <message>
        <location filename="../../studio/training.py" line="673" />
        <source>Saved the combination as run {0}.</source>
        <translation>已将合并结果保存为运行 {0}。</translation>
    </message>
</context>
</TS>