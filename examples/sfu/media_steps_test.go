package main

// The media steps of TestSFU: what each page decodes, and what the
// bridge channel changes of it.

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// media: every participant decodes video and audio from the other two, and
// keeps decoding.
func (x *sfuTest) media() {
	for _, p := range []string{"a", "b", "c"} {
		want := x.others(p, "a", "b", "c")
		waitFor(x.t, 20*time.Second, p+" decodes video and audio from "+strings.Join(want, ","), func() (bool, string) {
			s := x.stats(p)
			for _, id := range want {
				if s[id].FramesDecoded == 0 || s[id].TotalSamplesReceived == 0 {
					return false, fmt.Sprintf("%v", s)
				}
			}
			return true, ""
		})
	}
	for _, p := range []string{"a", "b", "c"} {
		x.waitGrowing(p, x.others(p, "a", "b", "c"), true, 10*time.Second)
	}
}

// lastN: a's lastN 0 stops the video a receives within a few seconds while
// its audio goes on; lastN -1 brings the video back.
func (x *sfuTest) lastN() {
	from := x.others("a", "a", "b", "c")
	x.b.eval("a", `sfu.setLastN(0)`, nil)
	x.waitForwarded("a", nil)
	x.waitStalled("a", from)
	// b and c still get each other's video
	x.waitGrowing("b", []string{x.ids["c"]}, true, 5*time.Second)

	x.b.eval("a", `sfu.setLastN(-1)`, nil)
	x.waitForwarded("a", []string{videoSource(x.ids["b"]), videoSource(x.ids["c"])})
	x.waitGrowing("a", from, true, 10*time.Second)
}

// constraints: a's ReceiverVideoConstraints with maxHeight 0 for b's
// source stops b's video at a, not c's; without it, b's comes back.
func (x *sfuTest) constraints() {
	b, c := x.ids["b"], x.ids["c"]
	x.b.eval("a", fmt.Sprintf(`sfu.setConstraints({lastN: -1, constraints: {%q: {maxHeight: 0}}})`, videoSource(b)), nil)
	x.waitForwarded("a", []string{videoSource(c)})
	x.waitStalled("a", []string{b})
	x.waitGrowing("a", []string{c}, true, 5*time.Second)

	x.b.eval("a", `sfu.setConstraints({lastN: -1, defaultConstraints: {maxHeight: 720}})`, nil)
	x.waitForwarded("a", []string{videoSource(b), videoSource(c)})
	x.waitGrowing("a", []string{b, c}, true, 10*time.Second)
}

// waitStalled waits until page's video from each of from stops while its
// audio goes on: two samples a second apart with the same frame counts and
// more audio samples.
func (x *sfuTest) waitStalled(page string, from []string) {
	x.t.Helper()
	var prev map[string]stat
	var prevAt time.Time
	desc := "first sample"
	waitFor(x.t, 8*time.Second, fmt.Sprintf("%s's video from %v stops while its audio goes on", page, from), func() (bool, string) {
		if !prevAt.IsZero() && time.Since(prevAt) < time.Second {
			return false, desc
		}
		cur := x.stats(page)
		defer func() { prev, prevAt = cur, time.Now() }()
		if prev == nil {
			return false, desc
		}
		for _, id := range from {
			if cur[id].FramesDecoded != prev[id].FramesDecoded || cur[id].TotalSamplesReceived <= prev[id].TotalSamplesReceived {
				desc = fmt.Sprintf("a second apart, from %s: %+v then %+v", id, prev[id], cur[id])
				return false, desc
			}
		}
		return true, ""
	})
}

// waitForwarded waits until page's last ForwardedSources lists want.
func (x *sfuTest) waitForwarded(page string, want []string) {
	x.t.Helper()
	waitFor(x.t, 5*time.Second, fmt.Sprintf("%s is told ForwardedSources %v", page, want), func() (bool, string) {
		var got []string
		x.b.eval(page, `sfu.forwarded`, &got)
		return got != nil && sameSet(got, want), fmt.Sprintf("%v", got)
	})
}

// screenshot saves a's and b's pages side by side, once every remote tile
// of both shows video.
func (x *sfuTest) screenshot() {
	for _, p := range []string{"a", "b"} {
		waitFor(x.t, 10*time.Second, p+"'s remote tiles play video", func() (bool, string) {
			var widths []int
			x.b.eval(p, `[...document.querySelectorAll('.tile.remote video')].map(v => v.videoWidth)`, &widths)
			return len(widths) == 2 && !slices.Contains(widths, 0), fmt.Sprintf("video widths %v", widths)
		})
	}
	dir := x.t.TempDir()
	var imgs []image.Image
	for _, p := range []string{"a", "b"} {
		path := filepath.Join(dir, p+".png")
		x.b.screenshot(p, path)
		f, err := os.Open(path)
		if err != nil {
			x.t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			x.t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	w, h := imgs[0].Bounds().Dx(), imgs[0].Bounds().Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, 2*h+8))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(0, 0, w, h), imgs[0], imgs[0].Bounds().Min, draw.Src)
	draw.Draw(out, image.Rect(0, h+8, w, 2*h+8), imgs[1], imgs[1].Bounds().Min, draw.Src)
	path := *screenshotPath
	if path == "" {
		path = filepath.Join(dir, "screenshot.png")
	}
	f, err := os.Create(path)
	if err != nil {
		x.t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, out); err != nil {
		x.t.Fatal(err)
	}
	x.t.Logf("screenshot of a (top) and b (bottom): %s", path)
}

// dominantSpeaker: the one unmuted fake microphone makes its page the
// dominant speaker on every page, twice: first a page that is not the
// dominant speaker now (while all beeped alike, one of them was), then
// another.
func (x *sfuTest) dominantSpeaker() {
	pages := []string{"a", "b", "c"}
	speak := func(who string) {
		for _, p := range pages {
			x.b.eval(p, fmt.Sprintf(`sfu.mute("audio", %v)`, p != who), nil)
		}
		for _, p := range pages {
			waitFor(x.t, 15*time.Second, fmt.Sprintf("%s sees %s as dominant speaker", p, who), func() (bool, string) {
				var d string
				x.b.eval(p, `sfu.dominant || ""`, &d)
				return d == x.ids[who], fmt.Sprintf("dominant %q", d)
			})
		}
	}
	var cur string
	x.b.eval("a", `sfu.dominant || ""`, &cur)
	first, second := "a", "b"
	if x.ids["a"] == cur {
		first, second = "b", "a"
	}
	speak(first)
	speak(second)
	for _, p := range pages {
		x.b.eval(p, `sfu.mute("audio", false)`, nil)
	}
}
