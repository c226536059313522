/**
 * What a report page is made of, as plain data: sections holding real tables, charts and notes. Builders in this
 * folder turn a comparison, sweep, drill or check into these; `render.ts` turns them into one offline page.
 */
import type { Chart } from "../charts.ts";

/** How a cell is marked: a change for the better or worse, an SLO verdict, or nothing. */
export type CellMark = "better" | "worse" | "pass" | "fail" | "muted";

export interface Cell {
  readonly text: string;
  /** Sort key (numbers sort numerically; absent: the text). */
  readonly sort?: number | string;
  readonly mark?: CellMark;
  /** Hover text. */
  readonly title?: string;
}

export interface Column {
  readonly label: string;
  /** Numbers right-aligned. */
  readonly numeric?: boolean;
}

export interface Table {
  /** Stable id (`data-table`), e.g. `metrics`, `per-class`. */
  readonly id: string;
  readonly caption?: string;
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly (Cell | string)[])[];
  /** Rows are clickable and open `explorer` details keyed by the first cell's `sort`. */
  readonly explore?: boolean;
}

/** A sweep explorer: the full summary of each point, shown when a chart point or a table row is clicked. */
export interface Explorer {
  /** Point id → its details as (label, value) rows. */
  readonly points: Readonly<Record<string, readonly (readonly [string, string])[]>>;
  /** Field of a chart datum that holds the point id (default `id`). */
  readonly field?: string;
}

export interface Section {
  readonly title: string;
  readonly note?: string;
  readonly tables?: readonly Table[];
  readonly charts?: readonly Chart[];
  /** Plain-text rendering (the terminal's), offered folded under the tables. */
  readonly text?: string;
  readonly explorer?: Explorer;
}

export type ReportKind = "compare" | "sweep" | "drill" | "check" | "report";

export interface Report {
  readonly kind: ReportKind;
  readonly title: string;
  readonly subtitle?: string | undefined;
  /** Overall verdict shown under the title. */
  readonly verdict?: { readonly ok: boolean; readonly text: string } | undefined;
  readonly sections: readonly Section[];
}
