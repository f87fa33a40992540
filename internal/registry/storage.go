package registry

import (
	"github.com/humstack/humstack/api"
)

// Storage kinds: block storages, image entities and images.

// blockStorageTypeLocal is the only storage type (annotation
// blockstoragev0/type): a qcow2 file on one node.
const blockStorageTypeLocal = "Local"

var blockStorageStrategy = &typed[api.BlockStorageSpec, api.BlockStorageStatus]{
	defaults: defaultBlockStorage,
	validate: validateBlockStorage,
	// The disk is a file on its node, made once from its source; a new
	// node or source is a new disk.
	placedBy: api.AnnotationBlockStorageNode,
	immutable: []immutable[api.BlockStorageSpec, api.BlockStorageStatus]{
		{"spec.from", func(b *api.BlockStorage) any { return b.Spec.From }},
	},
}

func defaultBlockStorage(b *api.BlockStorage) {
	setDefaultAnnotation(&b.Meta, api.AnnotationBlockStorageType, blockStorageTypeLocal)
	if b.Spec.From.Type == "" {
		b.Spec.From.Type = api.BlockStorageFromEmpty
	}
	dropEmptySections(&b.Spec.From)
}

// dropEmptySections removes the empty sections of the sources the disk is
// not made from: the original's clients send all of them
// (`baseImage: {imageName: "", tag: ""}` beside `type: HTTP`). A section
// with any value set is kept, and refused by validation.
func dropEmptySections(from *api.BlockStorageFrom) {
	if from.Type != api.BlockStorageFromHTTP && from.HTTP != nil && *from.HTTP == (api.BlockStorageHTTP{}) {
		from.HTTP = nil
	}
	if from.Type != api.BlockStorageFromBaseImage && from.BaseImage != nil && *from.BaseImage == (api.BlockStorageBaseImage{}) {
		from.BaseImage = nil
	}
}

func validateBlockStorage(b *api.BlockStorage, fe *api.FieldErrors) {
	ann := b.Meta.Annotations
	if checkOneOf(fe, annotationField(api.AnnotationBlockStorageType), ann[api.AnnotationBlockStorageType], blockStorageTypeLocal) {
		optionalID(fe, annotationField(api.AnnotationBlockStorageNode), ann[api.AnnotationBlockStorageNode])
	}
	req, reqOK := requireSize(fe, "spec.requestSize", b.Spec.RequestSize)
	limit, limitOK := requireSize(fe, "spec.limitSize", b.Spec.LimitSize)
	switch {
	case limitOK && limit == 0:
		fe.Add("spec.limitSize", "must be greater than 0")
	case reqOK && limitOK:
		checkLimit(fe, "spec.limitSize", req, limit, "spec.requestSize")
	}
	validateBlockStorageFrom(fe, &b.Spec.From)
}

// validateBlockStorageFrom checks that the section of the chosen source is
// complete and that no other source's section is set: a disk given both a
// URL and an image would silently ignore one of them.
func validateBlockStorageFrom(fe *api.FieldErrors, from *api.BlockStorageFrom) {
	if !checkOneOf(fe, "spec.from.type", from.Type,
		api.BlockStorageFromEmpty, api.BlockStorageFromHTTP, api.BlockStorageFromBaseImage) {
		return
	}
	section(fe, "spec.from.http", from.Type, api.BlockStorageFromHTTP, from.HTTP != nil)
	section(fe, "spec.from.baseImage", from.Type, api.BlockStorageFromBaseImage, from.BaseImage != nil)
	if from.Type == api.BlockStorageFromHTTP && from.HTTP != nil {
		checkHTTPURL(fe, "spec.from.http.url", from.HTTP.URL)
	}
	if bi := from.BaseImage; from.Type == api.BlockStorageFromBaseImage && bi != nil {
		requireID(fe, "spec.from.baseImage.imageName", bi.ImageName)
		checkTag(fe, "spec.from.baseImage.tag", bi.Tag)
	}
}

// section checks that the section of source type owner is set exactly when
// the disk's type is owner.
func section(fe *api.FieldErrors, field, typ, owner string, set bool) {
	switch {
	case typ == owner && !set:
		fe.Add(field, "required when spec.from.type is %s", owner)
	case typ != owner && set:
		fe.Add(field, "must not be set when spec.from.type is %s", typ)
	}
}

func checkTag(fe *api.FieldErrors, field, tag string) bool {
	switch {
	case tag == "":
		fe.Add(field, "required")
	case !api.IsTag(tag):
		fe.Add(field, "%s is not a valid tag: want letters, digits, '_', '.' and '-', 1-128 characters, not starting with '.' or '-'", quote(tag))
	default:
		return true
	}
	return false
}

var imageEntityStrategy = &typed[api.ImageEntitySpec, api.ImageEntityStatus]{
	validate: validateImageEntity,
}

func validateImageEntity(e *api.ImageEntity, fe *api.FieldErrors) {
	requireID(fe, "spec.source.namespace", e.Spec.Source.Namespace)
	requireID(fe, "spec.source.blockStorageID", e.Spec.Source.BlockStorageID)
}

var imageStrategy = &typed[api.ImageSpec, api.Empty]{
	validate: validateImage,
}

// validateImage checks the tag map. An empty map is fine: the README says
// tags are added over time.
func validateImage(im *api.Image, fe *api.FieldErrors) {
	for _, t := range sortedKeys(im.Spec.EntityMap) {
		f := keyField("spec.entityMap", t)
		if checkTag(fe, f, t) {
			requireID(fe, f, im.Spec.EntityMap[t])
		}
	}
}
