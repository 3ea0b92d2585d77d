"""Fill studio_zh_CN.ts with the Simplified Chinese strings below, then compile it:

    pyside6-lupdate studio/main_window.py studio/widgets/*.py studio/app.py -ts assets/translations/studio_zh_CN.ts
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
