<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>CostPanel</name>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="102" />
        <source>Parameters</source>
        <translation>参数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="104" />
        <source>trainable</source>
        <translation>可训练</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="105" />
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="106" />
        <source>trainable %</source>
        <translation>可训练 %</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="117" />
        <source>Training memory (estimate)</source>
        <translation>训练内存（估算）</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="119" />
        <source>batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="120" />
        <source>sequence length</source>
        <translation>序列长度</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="121" />
        <source>dtype</source>
        <translation>数据类型</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/cost_panel.py" line="123" />
        <source>total</source>
        <translation>总计</translation>
    </message>
</context>
<context>
    <name>DataPanel</name>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="39" />
        <source>Choose file…</source>
        <translation>选择文件…</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="40" />
        <source>Preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="79" />
        <source>Choose a dataset</source>
        <translation>选择数据集</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="114" />
        <source>format: {0} · {1} examples</source>
        <translation>格式：{0} · {1} 个样本</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="134" />
        <source>tokens per example</source>
        <translation>每个样本的 token 数</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/data_panel.py" line="135" />
        <source>examples</source>
        <translation>样本数</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../studio/main_window.py" line="158" />
        <source>A built-in name, a model folder, a .gguf file or a cached hub id</source>
        <translation>内置名称、模型文件夹、.gguf 文件或已缓存的 Hub ID</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="160" />
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="162" />
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="163" />
        <source>Open a Hugging Face model folder (config.json + *.safetensors)</source>
        <translation>打开 Hugging Face 模型文件夹（config.json + *.safetensors）</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="164" />
        <source>.gguf…</source>
        <translation>.gguf…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="165" />
        <source>Open a .gguf model file</source>
        <translation>打开 .gguf 模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="178" />
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="179" />
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="180" />
        <source>Data</source>
        <translation>数据</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="197" />
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="219" />
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="220" />
        <source>&amp;New…</source>
        <translation>新建(&amp;N)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="221" />
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="222" />
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="223" />
        <source>Save &amp;As…</source>
        <translation>另存为(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="224" />
        <source>Recent projects</source>
        <translation>最近的项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="226" />
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="227" />
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="228" />
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="230" />
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="234" />
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="235" />
        <source>Focus the tree filter</source>
        <translation>聚焦到模块树筛选框</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="240" />
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="242" />
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="250" />
        <source>The language changes the next time Adapter Studio starts.</source>
        <translation>语言将在下次启动 Adapter Studio 时更改。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="325" />
        <source>Cannot open project</source>
        <translation>无法打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="338" />
        <location filename="../../studio/main_window.py" line="374" />
        <source>Read-only: {0}</source>
        <translation>只读：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="377" />
        <source>Saved — the project saves itself as you edit.</source>
        <translation>已保存——项目会在编辑时自动保存。</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="380" />
        <source>New project</source>
        <translation>新建项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="387" />
        <source>Open project</source>
        <translation>打开项目</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="396" />
        <source>Save project as</source>
        <translation>项目另存为</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="414" />
        <source>Model folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="419" />
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="429" />
        <source>Building the skeleton of {0}…</source>
        <translation>正在构建 {0} 的骨架…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="430" />
        <source>Loading {0}…</source>
        <translation>正在加载 {0}…</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="442" />
        <source>{0}: {1:,} parameters</source>
        <translation>{0}：{1:,} 个参数</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="464" />
        <source>The methods could not be loaded: {0}</source>
        <translation>无法加载方法：{0}</translation>
    </message>
    <message>
        <location filename="../../studio/main_window.py" line="492" />
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
        <location filename="../../studio/widgets/module_tree.py" line="450" />
        <source>Untick {0}</source>
        <translation>取消勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="453" />
        <source>Tick in all {0} blocks</source>
        <translation>在全部 {0} 个块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="456" />
        <location filename="../../studio/widgets/module_tree.py" line="471" />
        <source>Tick only in block {0}</source>
        <translation>仅在第 {0} 块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="458" />
        <source>Tick {0}</source>
        <translation>勾选 {0}</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="472" />
        <source>Tick only in block</source>
        <translation>仅在某一块中勾选</translation>
    </message>
    <message>
        <location filename="../../studio/widgets/module_tree.py" line="500" />
        <source>{0}: ticked in all {1} blocks.</source>
        <translation>{0}：已在全部 {1} 个块中勾选。</translation>
    </message>
</context>
</TS>