// The only script: the appeal letter's Print button. Everything else is
// plain forms and links.
document.addEventListener("DOMContentLoaded", function () {
  var b = document.getElementById("print");
  if (b) b.addEventListener("click", function () { window.print(); });
});
