package api

// Scheduling annotations (docs/placement.md, "Scheduler"): what an object
// asks of the node the scheduler chooses for it. They matter only while the
// object's node annotation is unset.
const (
	// AnnotationAccelerator "kvm" asks for a node whose agent runs VMs
	// with KVM (node spec.accelerator).
	AnnotationAccelerator = "virtualmachinev0/accelerator"
	// AnnotationNodeSelector "rack=a,gpu=yes" asks for a node whose
	// meta.labels have every pair.
	AnnotationNodeSelector = "schedulerv0/node_selector"
	// AnnotationAffinity "app=db" asks for a node that holds a VM of the
	// same namespace whose labels match (when such a VM is placed).
	AnnotationAffinity = "schedulerv0/affinity"
	// AnnotationAntiAffinity "app=web" asks for a node that holds no other
	// VM of the same namespace whose labels match.
	AnnotationAntiAffinity = "schedulerv0/anti_affinity"
)

// AcceleratorKVM is the one accelerator a VM can ask for.
const AcceleratorKVM = "kvm"
