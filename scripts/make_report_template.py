"""Write the shipped reference template of the Word report, pipeline/render/templates/report_template.docx
(A4, 宋体 + Times New Roman body, 黑体 headings and captions, a page number in the footer; see
pipeline/render/word.py: STYLES, build_template). Run after changing either:

    .venv/bin/python scripts/make_report_template.py

A journal's own template takes its place through params.yaml: report.template (no code).
"""
from pipeline.core.files import write_bytes
from pipeline.render.word import TEMPLATE, build_template

if __name__ == "__main__":
    write_bytes(TEMPLATE, build_template())
    print(TEMPLATE)
