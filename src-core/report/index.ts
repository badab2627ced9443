// Validation reports rendered for people: Markdown (job summaries, PR comments), a self-contained HTML page, and
// the terminal table. Runtime-agnostic.
export { renderMarkdown } from './markdown.ts';
export { renderHtml } from './html.ts';
export { summaryTable, textTable, failureLines, setupLine, type SummaryTable } from './summary.ts';
export { stepLine, rankingLine, verdictLine } from './budget.ts';
