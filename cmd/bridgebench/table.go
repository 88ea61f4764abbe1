package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A table is a header row and data rows of cells, printed as aligned
// text or as a Markdown table.
type table struct {
	header []string
	rows   [][]string
}

// add appends a row.
func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// print writes t as aligned columns, or as a Markdown table when markdown
// is true.
func (t *table) print(w io.Writer, markdown bool) error {
	if markdown {
		line := func(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }
		var b strings.Builder
		b.WriteString(line(t.header))
		sep := make([]string, len(t.header))
		for i := range sep {
			sep[i] = "---"
		}
		b.WriteString(line(sep))
		for _, r := range t.rows {
			b.WriteString(line(r))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
