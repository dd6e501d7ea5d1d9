package sim

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// SVG layout constants (pixels).
const (
	svgWidth    = 1200
	svgLeft     = 120
	svgRight    = 20
	svgRow      = 22
	svgBar      = 12
	svgHeader   = 92
	svgAxis     = 30
	svgPanelGap = 30
)

var svgPalette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"}

// WriteSVG draws the timeline: one row per node with its transmitted
// frames, shaded partitions, down times, labelled phases and the
// convergence moment; the baseline gets its own panel when present.
func (r *Report) WriteSVG(out io.Writer) error {
	panels := []*Detail{r.Detail}
	figs := []*Figures{&r.Figures}
	if r.Baseline != nil {
		panels = append(panels, r.BaselineDetail)
		figs = append(figs, r.Baseline)
	}
	var body bytes.Buffer
	y := 10
	for i, d := range panels {
		y = drawPanel(&body, d, figs[i], y)
		y += svgPanelGap
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		svgWidth, y, svgWidth, y)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, y)
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	_, err := out.Write(b.Bytes())
	return err
}

func drawPanel(b *bytes.Buffer, d *Detail, f *Figures, top int) int {
	plotW := float64(svgWidth - svgLeft - svgRight)
	until := d.Until
	xOf := func(t time.Duration) float64 {
		return float64(svgLeft) + plotW*float64(t)/float64(until)
	}
	rows := len(d.NodeStats)
	y0 := top + svgHeader
	h := rows * svgRow
	title := fmt.Sprintf("%s — seed %d — %s", f.Scenario, f.Seed, d.Protocol)
	fmt.Fprintf(b, `<text x="10" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", top+16, esc(title))
	summary := fmt.Sprintf("%d frames, %d bytes on air, %d collisions, max duty %.3f%%", f.FramesOnAir, f.BytesOnAir, f.Collisions, 100*f.MaxDutyCycle)
	if f.Converged {
		summary = fmt.Sprintf("converged at %s; ", secs(d.ConvergedAt)) + summary
	} else {
		summary = "not converged; " + summary
	}
	fmt.Fprintf(b, `<text x="10" y="%d">%s</text>`+"\n", top+32, esc(summary))
	// Partitions: shaded bands with their groups.
	for i, p := range d.Partitions {
		x1, x2 := xOf(p.From), xOf(p.To)
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f4a261" fill-opacity="0.18"/>`+"\n", x1, y0, max(x2-x1, 1), h)
		var gs []string
		for _, g := range p.Groups {
			gs = append(gs, "["+strings.Join(g, " ")+"]")
		}
		label := "partition " + strings.Join(gs, "")
		// Keep the label inside its band (about 6 px per character).
		if maxChars := int((x2 - x1 - 6) / 6); len(label) > maxChars {
			if maxChars < 12 {
				label = ""
			} else {
				label = label[:maxChars-1] + "…"
			}
		}
		if label != "" {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#b5651d">%s</text>`+"\n", x1+3, y0-4-12*(i%2), esc(label))
		}
	}
	// Phases: ticks on top.
	for i, p := range d.Phases {
		if p.Label == "" {
			continue
		}
		x := xOf(p.At)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="2,3"/>`+"\n", x, y0-42, x, y0+h)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#333">%s</text>`+"\n", x+2, y0-32-11*(i%2), esc(p.Label))
	}
	for i, n := range d.NodeStats {
		ry := y0 + i*svgRow
		if i%2 == 1 {
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#000" fill-opacity="0.03"/>`+"\n", svgLeft, ry, plotW, svgRow)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLeft-6, ry+svgRow/2+4, esc(n.Name))
		for _, dn := range n.Down {
			x1, x2 := xOf(dn.From), xOf(dn.To)
			fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#888" fill-opacity="0.35"/>`+"\n", x1, ry+2, max(x2-x1, 1), svgRow-4)
			fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#333" font-size="9">down</text>`+"\n", x1+2, ry+svgRow-6)
		}
		color := svgPalette[i%len(svgPalette)]
		// Merge frames closer than half a pixel to keep the file small.
		var cur [2]float64
		open := false
		flush := func() {
			if open {
				fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", cur[0], ry+(svgRow-svgBar)/2, max(cur[1]-cur[0], 0.8), svgBar, color)
			}
		}
		for _, t := range n.TX {
			x1, x2 := xOf(t.Start), xOf(t.Start+t.Dur)
			if open && x1 <= cur[1]+0.5 {
				cur[1] = max(cur[1], x2)
				continue
			}
			flush()
			cur, open = [2]float64{x1, x2}, true
		}
		flush()
	}
	// Frame of the plot and time axis.
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#999"/>`+"\n", svgLeft, y0, plotW, h)
	step := axisStep(until)
	for t := time.Duration(0); t <= until; t += step {
		x := xOf(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>`+"\n", x, y0+h, x, y0+h+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, y0+h+16, esc(shortDur(t)))
	}
	if d.ConvergedAt >= 0 {
		x := xOf(d.ConvergedAt)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#2a9d8f" stroke-width="2"/>`+"\n", x, y0-6, x, y0+h+6)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#2a9d8f" font-weight="bold">%s</text>`+"\n", x+3, y0+h+28, esc("converged "+secs(d.ConvergedAt)))
	}
	return y0 + h + svgAxis + 6
}

func axisStep(until time.Duration) time.Duration {
	for _, s := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if until/s <= 14 {
			return s
		}
	}
	return until / 10
}

// shortDur formats an axis time: "0", "45s", "15m", "1h", "1h30m".
func shortDur(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	out := ""
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	if s > 0 {
		out += fmt.Sprintf("%ds", s)
	}
	return out
}

func esc(s string) string { return html.EscapeString(s) }
