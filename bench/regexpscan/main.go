// Command regexpscan is the plain-regexp peer of bench/extract.sh: it
// reads a file line by line and prints every match of a Go regexp, the
// way a simple extractor would be written.
package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"regexp"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: regexpscan PATTERN FILE")
	}
	re := regexp.MustCompile(os.Args[1])
	f, err := os.Open(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		for _, m := range re.FindAll(sc.Bytes(), -1) {
			fmt.Fprintf(out, "%s\n", m)
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
}
