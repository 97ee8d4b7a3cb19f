// gowriter: Go's archive/zip as one writer of the valid-archive corpus (scripts/make-valid-corpus).
//
// Reads a JSON list of jobs from the file named by its argument; each job names an output
// archive, a variant and the entries of a source tree (files, directories, symlinks). One
// process writes every job, so the corpus pays for one `go run` compile. Stdlib only.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

type item struct {
	Name   string `json:"name"` // the archive name; a directory ends in "/"
	Path   string `json:"path"`
	Kind   string `json:"kind"` // file, dir or link
	Target string `json:"target"`
	Mtime  int64  `json:"mtime"`
}

type job struct {
	Out     string `json:"out"`
	Variant string `json:"variant"`
	Items   []item `json:"items"`
}

func content(it item) ([]byte, error) {
	if it.Kind == "link" {
		return []byte(it.Target), nil
	}
	if it.Kind == "dir" {
		return nil, nil
	}
	return os.ReadFile(it.Path)
}

func write(j job) error {
	f, err := os.Create(j.Out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := zip.NewWriter(f)
	if j.Variant == "level9" {
		w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.BestCompression)
		})
	}
	for _, it := range j.Items {
		data, err := content(it)
		if err != nil {
			return err
		}
		if err := add(w, j.Variant, it, data); err != nil {
			return fmt.Errorf("%s: %v", it.Name, err)
		}
	}
	if j.Variant == "comment" {
		if err := w.SetComment("written by Go's archive/zip for zipmedic's corpus"); err != nil {
			return err
		}
	}
	return w.Close()
}

func add(w *zip.Writer, variant string, it item, data []byte) error {
	if variant == "create" {
		// Create: no mode, no time beyond the zero DOS date, deflate with a data descriptor.
		out, err := w.Create(it.Name)
		if err != nil {
			return err
		}
		if it.Kind != "dir" {
			_, err = out.Write(data)
		}
		return err
	}
	fi, err := os.Lstat(it.Path)
	if err != nil {
		return err
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	hdr.Name = it.Name
	hdr.Modified = time.Unix(it.Mtime, 0).UTC()
	hdr.Method = zip.Deflate
	if variant == "store" || it.Kind == "dir" {
		hdr.Method = zip.Store
	}
	switch variant {
	case "nonutf8":
		// NonUTF8: the name's bytes go out without bit 11 even when they are UTF-8.
		hdr.NonUTF8 = true
	case "comment":
		hdr.Comment = "entry " + it.Name
	case "raw":
		// CreateRaw: sizes and CRC-32 in the local header, no data descriptor (APPNOTE 4.4.4 bit 3 clear).
		var comp bytes.Buffer
		if it.Kind != "dir" {
			fw, _ := flate.NewWriter(&comp, flate.DefaultCompression)
			fw.Write(data)
			fw.Close()
		}
		hdr.CRC32 = crc32.ChecksumIEEE(data)
		hdr.UncompressedSize64 = uint64(len(data))
		hdr.CompressedSize64 = uint64(comp.Len())
		if it.Kind == "dir" {
			hdr.Method = zip.Store
		}
		out, err := w.CreateRaw(hdr)
		if err != nil {
			return err
		}
		_, err = out.Write(comp.Bytes())
		return err
	}
	out, err := w.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if it.Kind != "dir" {
		_, err = out.Write(data)
	}
	return err
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var jobs []job
	if err := json.Unmarshal(raw, &jobs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, j := range jobs {
		if err := write(j); err != nil {
			fmt.Fprintf(os.Stderr, "gowriter: %s: %v\n", j.Out, err)
			os.Exit(1)
		}
	}
}
